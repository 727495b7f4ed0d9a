/**
 * Issue 20, items 14 and 16: workbooks made to hold a reader. Built here,
 * byte by byte (bench/hostile-workbooks.ts), never committed as large files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/core/errors.js';
import { openInvoiceFile, type IntakeRecord } from '../../src/intake/invoice-file.js';
import { inlineCell, oneLongCell, sheetXml, workbookOf } from '../../bench/hostile-workbooks.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paylinks-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HEADER = inlineCell('A1', 'invoice_number') + inlineCell('B1', 'amount') + inlineCell('C1', 'description');

async function read(name: string, bytes: Buffer): Promise<IntakeRecord[]> {
  const file = path.join(tmp, name);
  writeFileSync(file, bytes);
  const input = await openInvoiceFile(file);
  const records: IntakeRecord[] = [];
  for await (const record of input.records) records.push(record);
  return records;
}

async function fileError(name: string, bytes: Buffer): Promise<InputFileError> {
  try {
    await read(name, bytes);
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error(`expected ${name} to be refused`);
}

describe('a cell longer than Excel allows', () => {
  it('a 1 MB text cell ends the file at once with FILE_TOO_LARGE naming the cell', async () => {
    const error = await fileError('long-cell.xlsx', oneLongCell(1024 * 1024));
    expect(error.code).toBe('FILE_TOO_LARGE');
    expect(error.message).toContain('cell C2 holds more than 32,767 characters');
    expect(error.message.length).toBeLessThan(400);
  });

  it('a cell of exactly 32,767 characters is read whole, entities cut at chunk ends included', async () => {
    // 32,767 characters, written with an entity every 97 characters, so that some fall across the inflater's chunks.
    const piece = 'x'.repeat(96);
    let text = '';
    let xml = '';
    while (text.length + 97 <= 32_767) {
      text += `${piece}&`;
      xml += `${piece}&amp;`;
    }
    const rest = 32_767 - text.length;
    text += 'y'.repeat(rest);
    xml += 'y'.repeat(rest);
    const sheet = sheetXml([HEADER, `${inlineCell('A2', 'E-1')}<c r="B2"><v>10</v></c>${inlineCell('C2', xml)}`]);
    const records = await read('exact-cell.xlsx', workbookOf(sheet));
    expect(records).toHaveLength(1);
    expect(records[0]!.cells[2]).toBe(text);
    expect(records[0]!.cells[2]).toHaveLength(32_767);
  });

  it('a shared string longer than Excel allows is FILE_TOO_LARGE', async () => {
    const strings = `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>${'S'.repeat(100_000)}</t></si></sst>`;
    const sheet = sheetXml([HEADER, `${inlineCell('A2', 'S-1')}<c r="B2"><v>10</v></c><c r="C2" t="s"><v>0</v></c>`]);
    const error = await fileError('long-string.xlsx', workbookOf(sheet, strings));
    expect(error.code).toBe('FILE_TOO_LARGE');
    expect(error.message).toContain('shared string 1 is longer than 32,767 characters');
  });

  it('a tag that never ends is FILE_TOO_LARGE, not minutes of re-scanning', async () => {
    const sheet = Buffer.concat([Buffer.from(sheetXml([HEADER]).replace('</sheetData>', '<row r="2" spans="'), 'utf8'), Buffer.alloc(4 * 1024 * 1024, 0x31)]);
    const error = await fileError('endless-tag.xlsx', workbookOf(sheet));
    expect(error.code).toBe('FILE_TOO_LARGE');
    expect(error.message).toContain('a tag, comment or CDATA section longer than');
  });
});

describe('workbooks too large once unzipped', () => {
  it('a sheet that says it inflates to 600 MB is refused before a byte is inflated', async () => {
    const sheet = sheetXml([HEADER, `${inlineCell('A2', 'B-1')}<c r="B2"><v>10</v></c>`]);
    const error = await fileError('bomb.xlsx', workbookOf(sheet, undefined, { declaredSheetSize: 600 * 1024 * 1024 }));
    expect(error.code).toBe('FILE_TOO_LARGE');
    expect(error.message).toMatch(/would take 600 MB once unzipped; paylinks reads workbooks of at most 512 MB/);
  });

  it('millions of empty shared strings stop at the limit with FILE_TOO_LARGE, never pass as valid', async () => {
    const strings = Buffer.concat([
      Buffer.from('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">', 'utf8'),
      Buffer.from('<si><t/></si>'.repeat(5_000_001), 'utf8'),
      Buffer.from('</sst>', 'utf8'),
    ]);
    const sheet = sheetXml([HEADER, `${inlineCell('A2', 'M-1')}<c r="B2"><v>10</v></c><c r="C2" t="s"><v>0</v></c>`]);
    const error = await fileError('many-strings.xlsx', workbookOf(sheet, strings));
    expect(error.code).toBe('FILE_TOO_LARGE');
    expect(error.message).toContain('more than 5,000,000 shared strings');
  }, 120_000);
});
