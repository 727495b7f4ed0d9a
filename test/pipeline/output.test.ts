/** The output CSV writer: what Excel and a CSV parser read back. */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { neutraliseCell, OutputWriter, RESULT_COLUMNS } from '../../src/pipeline/output.js';
import { readOutputCsv } from '../helpers/csv.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-output-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('neutraliseCell', () => {
  it.each([
    ['=HYPERLINK("http://evil","x")', `'=HYPERLINK("http://evil","x")`],
    ['+1+2', `'+1+2`],
    ['-2+3', `'-2+3`],
    ['@SUM(A1)', `'@SUM(A1)`],
    ['\tcmd', `'\tcmd`],
    ['\rcmd', `'\rcmd`],
    ['-cmd|/C calc', `'-cmd|/C calc`],
  ])('neutralises %j', (input, expected) => {
    expect(neutraliseCell(input)).toBe(expected);
  });

  it.each(['-12.50', '+3', '-1,234.56', '150.75', 'Consulting, March', '', 'a=b'])('leaves %j alone', (value) => {
    expect(neutraliseCell(value)).toBe(value);
  });
});

describe('OutputWriter', () => {
  it('writes UTF-8 with BOM, CRLF, RFC 4180 quoting, and reads back to the same cells', async () => {
    const file = path.join(dir, 'out.csv');
    const writer = new OutputWriter(file, { headers: ['invoice_number', 'amount', 'description', 'note'] });
    const tricky = 'He said "pay", then left,\nnew line; Café ñ €';
    await writer.write(['INV-1', '150.75', tricky, ' padded '], { status: 'created', paymentId: 'id-1', paymentLink: 'https://pay/l/1', attempts: 1 });
    await writer.write(['INV-2', '-12.50', '=cmd()', ''], { status: 'failed', errorCode: 'PAYWINT_VALIDATION', errorMessage: '-bad amount', attempts: 3 });
    await writer.write(['INV-3'], { status: 'invalid', errorCode: 'MISSING_AMOUNT', errorMessage: 'the amount is empty', attempts: 0 });
    await writer.close();

    const bytes = await readFile(file);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text.split('\r\n')).toHaveLength(1 + 3 + 1); // header, 3 rows (the embedded line break stays a bare \n), trailing ''
    expect(text.endsWith('\r\n')).toBe(true);

    const { headers, rows } = await readOutputCsv(file);
    expect(headers).toEqual(['invoice_number', 'amount', 'description', 'note', ...RESULT_COLUMNS]);
    expect(rows[0]).toEqual({
      invoice_number: 'INV-1',
      amount: '150.75',
      description: tricky,
      note: ' padded ',
      status: 'created',
      payment_id: 'id-1',
      payment_link: 'https://pay/l/1',
      error_code: '',
      error_message: '',
      attempts: '1',
    });
    expect(rows[1]).toMatchObject({ amount: '-12.50', description: `'=cmd()`, error_message: `'-bad amount`, attempts: '3' });
    expect(rows[2]).toMatchObject({ invoice_number: 'INV-3', amount: '', status: 'invalid', error_code: 'MISSING_AMOUNT' });
    expect(await readdir(dir)).toEqual(['out.csv']);
  });

  it('leaves nothing behind when aborted', async () => {
    const file = path.join(dir, 'aborted.csv');
    const writer = new OutputWriter(file, { headers: ['a'] });
    await writer.write(['x'], { status: 'created', attempts: 1 });
    await writer.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});
