/**
 * The drop folder on disk: its sub-folders, which files are ignored, and how
 * a file is published under a name nobody else holds (`march (2).out.csv`)
 * without ever overwriting another file, also when several processes share
 * the folder and when a process dies half-way.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PaylinksError } from '../core/errors.js';

export const INBOX_FOLDERS = ['inbox', 'processing', 'done', 'failed', 'out'] as const;
export type InboxFolder = (typeof INBOX_FOLDERS)[number];
export type InboxLayout = Record<InboxFolder, string>;

/** Makes the sub-folders under `dir` when missing and returns their paths. */
export async function prepareInbox(dir: string): Promise<InboxLayout> {
  const layout = Object.fromEntries(INBOX_FOLDERS.map((f) => [f, path.join(dir, f)])) as InboxLayout;
  try {
    for (const folder of Object.values(layout)) await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new PaylinksError('INBOX_UNAVAILABLE', `the drop folder ${dir} cannot be used: ${(error as Error).message}`, { cause: error });
  }
  return layout;
}

/**
 * Files a person or a program leaves while still working: hidden files,
 * Office lock files (`~$*`, `.~lock.*#`) and partial downloads or uploads.
 */
export function isIgnored(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~$') || /\.(tmp|part|crdownload)$/i.test(name);
}

/** `march` + ` (2)` + `.out.csv`. */
export function numberedName(stem: string, extension: string, n: number): string {
  return n <= 1 ? `${stem}${extension}` : `${stem} (${n})${extension}`;
}

/** The name and extension of a file: `march.csv` → [`march`, `.csv`]. */
export function splitName(name: string): [string, string] {
  const { name: stem, ext } = path.parse(name);
  return [stem, ext];
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.ino === sb.ino && sa.dev === sb.dev;
}

const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Puts `source` into `dir` as `stem + extension`, or `stem (n) + extension`
 * when that is taken, and returns the name used. `source` stays where it is
 * (the caller removes it): the new name is a hard link, made only if the
 * name is free (no other file is ever overwritten, even by a process racing
 * for the same name), and complete the moment it appears.
 *
 * `marker` (a file beside `source`) remembers the name chosen, so a process
 * that died after publishing publishes nothing twice when it resumes.
 * Where hard links are not supported (some network shares), the file is
 * renamed into a name seen free a moment before.
 */
export async function publishUnique(source: string, dir: string, stem: string, extension: string, marker: string): Promise<string> {
  const previous = await readFile(marker, 'utf8').catch(() => undefined);
  if (previous !== undefined && (await sameFile(source, path.join(dir, previous)))) return previous;
  for (let n = 1; ; n += 1) {
    const name = numberedName(stem, extension, n);
    const target = path.join(dir, name);
    if (await exists(target)) continue;
    await writeFile(marker, name);
    try {
      await link(source, target);
      return name;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') continue;
      if (!LINK_UNSUPPORTED.has(code)) throw error;
      await rename(source, target);
      return name;
    }
  }
}

/** The SHA-256 of a file's bytes, as the producer computes it. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
