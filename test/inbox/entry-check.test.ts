/** The drop folder's file check: only regular files pass, and nothing else is opened or followed. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkRegularFile } from '../../src/inbox/entry-check.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-entry-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkRegularFile', () => {
  it('passes a regular file with its permission bits', async () => {
    await writeFile(path.join(dir, 'a.csv'), 'x', { mode: 0o640 });
    expect(await checkRegularFile(path.join(dir, 'a.csv'))).toEqual({ regular: true, mode: 0o640 & ~process.umask() });
  });

  it('refuses a link to a regular file, a FIFO (without blocking), a folder and a dangling link', async () => {
    await writeFile(path.join(dir, 'secret'), 'sk_live_x');
    await symlink(path.join(dir, 'secret'), path.join(dir, 'link.csv'));
    await symlink(path.join(dir, 'nowhere'), path.join(dir, 'dangling.csv'));
    execFileSync('mkfifo', [path.join(dir, 'pipe.csv')]);
    await mkdir(path.join(dir, 'folder.csv'));
    expect(await checkRegularFile(path.join(dir, 'link.csv'))).toEqual({ regular: false, kind: 'symbolic link' });
    expect(await checkRegularFile(path.join(dir, 'dangling.csv'))).toEqual({ regular: false, kind: 'symbolic link' });
    expect(await checkRegularFile(path.join(dir, 'pipe.csv'))).toEqual({ regular: false, kind: 'FIFO (named pipe)' });
    expect(await checkRegularFile(path.join(dir, 'folder.csv'))).toEqual({ regular: false, kind: 'folder' });
  });
});
