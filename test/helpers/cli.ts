/**
 * Runs the real `paylinks` executable (`node bin/paylinks.js ...`) and
 * collects what a user sees: exit code, stdout, stderr.
 *
 * The executable loads the compiled CLI (dist/src/main.js), so the code must
 * be built first: `npm test` runs `npm run build` before vitest; a bare
 * `vitest run` on an out-of-date dist/ fails here saying so (see built.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { assertBuilt } from './built.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(REPO_ROOT, 'bin', 'paylinks.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Working directory. Default: the repository root. */
  cwd?: string;
  /** Added to the environment. */
  env?: NodeJS.ProcessEnv;
  /** Kill the process after this long, in milliseconds. Default 30000. */
  timeoutMs?: number;
}

export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  // Never old code: dist/ must be built from the sources as they are now.
  await assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    // Never the user's data directory: the test run's own (see setup/redis-global.ts).
    env: { ...process.env, PAYLINKS_HOME: inject('paylinksHome'), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
