/**
 * Spawned-process tests run the compiled CLI in `dist/`. A bare `vitest run`
 * after editing `src/` would test the code as it was at the last build, and
 * pass or fail for the wrong reason: before the first spawn, every source
 * file that `npm run build` compiles is checked against its output, and a
 * missing or older output fails the test with what to do.
 *
 * A check, not a build: `npm test` builds first, and a second `tsc` run per
 * test file would cost the suite more than it saves.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The folders tsconfig.build.json compiles into dist/. */
const BUILT_FOLDERS = ['src', 'jobs', 'bench', 'fixtures'] as const;

/** Every `.ts` source (not `.d.ts`) under `dir`, relative to the repository root. */
async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries;
  try {
    entries = await readdir(path.join(REPO_ROOT, dir), { withFileTypes: true });
  } catch {
    return found; // a folder that does not exist has nothing to build
  }
  for (const entry of entries) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(rel)));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(rel);
  }
  return found;
}

async function mtimeMs(file: string): Promise<number | undefined> {
  try {
    return (await stat(path.join(REPO_ROOT, file))).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Sources whose compiled `.js` in dist/ is missing or older than they are. */
export async function staleSources(): Promise<{ source: string; output: string; missing: boolean }[]> {
  const stale: { source: string; output: string; missing: boolean }[] = [];
  for (const folder of BUILT_FOLDERS) {
    for (const source of await sources(folder)) {
      const output = path.join('dist', source.replace(/\.ts$/, '.js'));
      const [sourceMs, outputMs] = await Promise.all([mtimeMs(source), mtimeMs(output)]);
      if (outputMs === undefined) stale.push({ source, output, missing: true });
      else if (sourceMs !== undefined && sourceMs > outputMs) stale.push({ source, output, missing: false });
    }
  }
  return stale;
}

let checked: Promise<void> | undefined;

/**
 * Resolves when dist/ holds a build of every source as it is now; otherwise
 * rejects naming the first stale files and telling to run `npm run build`.
 * Checked once per test file.
 */
export function assertBuilt(): Promise<void> {
  checked ??= staleSources().then((stale) => {
    if (stale.length === 0) return;
    const shown = stale
      .slice(0, 5)
      .map((s) => (s.missing ? `${s.output} is missing (${s.source})` : `${s.source} changed after ${s.output} was built`))
      .join('; ');
    const more = stale.length > 5 ? ` and ${stale.length - 5} more` : '';
    throw new Error(`dist/ is out of date: ${shown}${more}. These tests run the compiled CLI: run "npm run build" first (npm test builds before it tests)`);
  });
  return checked;
}
