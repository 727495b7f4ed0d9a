/**
 * What the drop folder takes: regular files only. A symbolic link in
 * `inbox/` would make the service read whatever the link points at (a
 * `.env`, a key), a FIFO would block a read forever, and a device may act on
 * being opened; none of them is an invoice file a person dropped.
 *
 * The check is made on the entry once it is in `processing/<pickup id>/`, a
 * folder only this service writes to, so nothing can swap it afterwards:
 * `lstat` first (a link, FIFO or device is never opened), then an open with
 * `O_NOFOLLOW | O_NONBLOCK` and an `fstat` of the descriptor, so an entry
 * swapped between the two looks is caught too.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, lstat, open, writeFile } from 'node:fs/promises';

export type EntryKind = 'file' | 'symbolic link' | 'folder' | 'FIFO (named pipe)' | 'socket' | 'device' | 'special file';

/** What kind of entry `stats` (from `lstat` or `fstat`) describes. */
export function entryKind(stats: Stats): EntryKind {
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symbolic link';
  if (stats.isDirectory()) return 'folder';
  if (stats.isFIFO()) return 'FIFO (named pipe)';
  if (stats.isSocket()) return 'socket';
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'device';
  return 'special file';
}

export type EntryCheck = { regular: true; mode: number } | { regular: false; kind: EntryKind };

/** Mode of the errors text of an entry that is not a regular file (nobody else's business). */
export const NOT_REGULAR_MODE = 0o600;

/**
 * Whether `file` is a regular file, never following a link nor opening
 * anything else; for a regular file, its permission bits.
 */
export async function checkRegularFile(file: string): Promise<EntryCheck> {
  const before = entryKind(await lstat(file));
  if (before !== 'file') return { regular: false, kind: before };
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    // Swapped for a link since the lstat (O_NOFOLLOW refuses it): report it as one.
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return { regular: false, kind: 'symbolic link' };
    throw error;
  }
  try {
    const stats = await handle.stat();
    const kind = entryKind(stats);
    return kind === 'file' ? { regular: true, mode: stats.mode & 0o777 } : { regular: false, kind };
  } finally {
    await handle.close();
  }
}

/**
 * Writes an errors text readable by no one the described file's permissions
 * do not already allow (never executable), whatever the umask or a left-over
 * file's mode.
 */
export async function writeErrorsText(file: string, text: string, describedMode: number): Promise<void> {
  const mode = describedMode & 0o666;
  await writeFile(file, text, { mode });
  await chmod(file, mode);
}
