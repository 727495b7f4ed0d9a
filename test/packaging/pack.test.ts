/**
 * What `npm pack` ships is a working program: the tarball, installed into an
 * empty folder (from the local npm cache where it can), gives a `paylinks`
 * that answers `--help` and validates a file, with no engine warning on the
 * Node that runs the tests.
 *
 * The tarball is packed from the current build (`--ignore-scripts`: `npm test`
 * has just built `dist/`; a real `npm pack` cleans and rebuilds it through
 * `prepack` and `prepare`).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/built.js';
import { REPO_ROOT } from '../helpers/cli.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the variables `npm test` sets for its own run (they would point the inner npm at this repository). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_') && lower !== 'npm_config_cache' && lower !== 'npm_config_registry') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function explain(result: Run): string {
  return `exit ${result.code}\nstdout: ${result.stdout.slice(-2000)}\nstderr: ${result.stderr.slice(-2000)}`;
}

interface PackEntry {
  filename: string;
  entryCount: number;
  files: { path: string }[];
}

describe('npm pack', () => {
  let work = '';
  let packed: PackEntry;
  let install: Run;
  const app = (): string => path.join(work, 'app');

  beforeAll(async () => {
    await assertBuilt();
    work = await mkdtemp(path.join(tmpdir(), 'paylinks-pack-'));
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO_ROOT);
    expect(pack.code, explain(pack)).toBe(0);
    const entries = JSON.parse(pack.stdout) as PackEntry[];
    expect(entries).toHaveLength(1);
    packed = entries[0]!;

    // An empty folder with a package.json of its own, so npm installs there and nowhere above it.
    await mkdir(app());
    await writeFile(path.join(app(), 'package.json'), JSON.stringify({ name: 'paylinks-pack-check', private: true }));
    install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], app(), 540_000);
  }, 600_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the program, its page, README and LICENSE, and no tests, fixtures, benchmarks or TypeScript sources', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'bin/paylinks.js',
        'dist/src/main.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'docs/paywint.md',
      ]),
    );
    // Every file of the page, whatever it is split into: the server reads them from src/serve/page/ at run time.
    const page = readdirSync(path.join(REPO_ROOT, 'src', 'serve', 'page')).map((f) => `src/serve/page/${f}`);
    expect(page).toContain('src/serve/page/index.html');
    expect(files).toEqual(expect.arrayContaining(page));
    expect(files.some((f) => f.startsWith('dist/jobs/'))).toBe(true);
    const unwanted = files.filter(
      (f) =>
        /^(test|bench|fixtures|\.ci|dist\/test|dist\/bench|dist\/fixtures)\//.test(f) ||
        f.endsWith('.map') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        /^(Dockerfile|docker-compose\.yml|tsconfig.*\.json|eslint\.config\.js|vitest\.config\.ts)$/.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it('installs into an empty folder with no engine warning on this Node', () => {
    expect(install.code, explain(install)).toBe(0);
    expect(install.stdout + install.stderr).not.toMatch(/EBADENGINE/);
  });

  it('gives a working `npx paylinks --help`', async () => {
    const help = await run('npx', ['--no', '--', 'paylinks', '--help'], app(), 60_000);
    expect(help.code, explain(help)).toBe(0);
    expect(help.stdout).toMatch(/Usage: paylinks/);
    expect(help.stdout).toMatch(/validate \[options\] <file>/);
    expect(help.stdout).toMatch(/serve \[options\]/);
  });

  it('gives a working `npx paylinks validate` on a sample file', async () => {
    const sample = path.join(REPO_ROOT, 'fixtures', 'invoices.csv');
    const result = await run('npx', ['--no', '--', 'paylinks', 'validate', sample, '--json'], app(), 60_000);
    expect(result.code, explain(result)).toBe(0);
    const report = JSON.parse(result.stdout) as { rows: number; valid: number; invalid: number; total_amount: string };
    expect(report).toMatchObject({ rows: 25, valid: 25, invalid: 0, total_amount: '58713.09' });

    const bad = await run('npx', ['--no', '--', 'paylinks', 'validate', path.join(REPO_ROOT, 'fixtures', 'bad-rows.csv')], app(), 60_000);
    expect(bad.code, explain(bad)).toBe(1);
  });

  it('installs the page the server reads, where it looks for it', async () => {
    const installed = path.join(app(), 'node_modules', 'paylinks');
    const html = await readFile(path.join(installed, 'src', 'serve', 'page', 'index.html'), 'utf8');
    expect(html).toMatch(/<html/i);
    const probe = await run(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('./node_modules/paylinks/dist/src/serve/page.js'); console.log(m.pageDir());"],
      app(),
      60_000,
    );
    expect(probe.code, explain(probe)).toBe(0);
    expect(probe.stdout.trim()).toBe(path.join(await realpath(installed), 'src', 'serve', 'page'));
  });
});
