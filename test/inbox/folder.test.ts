/** The drop folder on disk: ignored names, free names, publishing without overwriting. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isIgnored, numberedName, prepareInbox, publishUnique } from '../../src/inbox/folder.js';
import { fileErrorText } from '../../src/inbox/errors-text.js';
import { InputFileError } from '../../src/core/errors.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-folder-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('drop folder names', () => {
  it('ignores hidden files, Office lock files and partial downloads or uploads', () => {
    for (const name of ['.DS_Store', '.march.csv.swp', '~$march.xlsx', '.~lock.march.csv#', 'march.csv.tmp', 'march.csv.part', 'march.csv.crdownload', 'MARCH.TMP']) {
      expect(isIgnored(name), name).toBe(true);
    }
    for (const name of ['march.csv', 'March 2026.CSV', 'invoices.xlsx', 'report~1.csv', 'partial.csv']) expect(isIgnored(name), name).toBe(false);
  });

  it('numbers a taken name before its extension', () => {
    expect(numberedName('march', '.out.csv', 1)).toBe('march.out.csv');
    expect(numberedName('march', '.out.csv', 2)).toBe('march (2).out.csv');
    expect(numberedName('README', '', 3)).toBe('README (3)');
  });
});

describe('publishUnique', () => {
  it('never overwrites: ten files racing for one name get ten names, each with its own bytes', async () => {
    const layout = await prepareInbox(dir);
    const sources = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const file = path.join(layout.processing, `src-${i}`);
        await writeFile(file, `file ${i}`);
        return file;
      }),
    );
    const names = await Promise.all(sources.map((s, i) => publishUnique(s, layout.out, 'march', '.out.csv', path.join(layout.processing, `.marker-${i}`))));
    expect(new Set(names).size).toBe(10);
    expect((await readdir(layout.out)).sort()).toEqual(['march (10).out.csv', 'march (2).out.csv', 'march (3).out.csv', 'march (4).out.csv', 'march (5).out.csv', 'march (6).out.csv', 'march (7).out.csv', 'march (8).out.csv', 'march (9).out.csv', 'march.out.csv']);
    for (const [i, name] of names.entries()) expect(await readFile(path.join(layout.out, name), 'utf8')).toBe(`file ${i}`);
  });

  it('publishes nothing twice when called again after a crash (the marker names what was published)', async () => {
    const layout = await prepareInbox(dir);
    const source = path.join(layout.processing, 'out.csv');
    await writeFile(source, 'output');
    const marker = path.join(layout.processing, '.out-name');
    await writeFile(path.join(layout.out, 'march.out.csv'), 'an earlier output');
    expect(await publishUnique(source, layout.out, 'march', '.out.csv', marker)).toBe('march (2).out.csv');
    expect(await publishUnique(source, layout.out, 'march', '.out.csv', marker)).toBe('march (2).out.csv');
    expect((await readdir(layout.out)).sort()).toEqual(['march (2).out.csv', 'march.out.csv']);
    expect(await readFile(path.join(layout.out, 'march.out.csv'), 'utf8')).toBe('an earlier output');
  });
});

describe('errors text', () => {
  it('says what is wrong, where and how to fix it, by the name the person dropped', () => {
    const error = new InputFileError('FILE_UNTERMINATED_QUOTE', '/srv/drop/processing/20261125T030000-ab/march.csv', 'a quoted field starts here and is never closed', 7);
    const text = fileErrorText('march.csv', error);
    expect(text).toContain('could not use march.csv: nothing was sent');
    expect(text).toContain('What is wrong: a quoted field starts here and is never closed [FILE_UNTERMINATED_QUOTE]');
    expect(text).toContain('Where: line 7');
    expect(text).toMatch(/How to fix it: .*closing quote/);
    expect(text).not.toContain('/srv/drop/processing');
  });
});
