/** validateFile, reportToJson and formatReport: what `paylinks validate` tells a user. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/core/errors.js';
import { formatReport, reportToJson, validateFile } from '../../src/intake/validate.js';

const fixture = (name: string) => path.join('fixtures', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'paylinks-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('validateFile', () => {
  it('fixtures/invoices.csv: 25 valid rows, total 58713.09', async () => {
    const report = await validateFile(fixture('invoices.csv'));
    expect(report).toMatchObject({ file: fixture('invoices.csv'), rows: 25, valid: 25, invalid: 0, totalCents: 5_871_309, errors: [], encoding: 'utf-8', delimiter: ',' });
    expect(reportToJson(report)).toEqual({ format: 'csv', sheet: null, header_line: 1, decimal: 'point', rows: 25, valid: 25, invalid: 0, total_amount: '58713.09', errors: [], warnings: [] });
  });

  it.each([
    ['windows-1252-semicolon.csv', 5, 5, 378_696, 'windows-1252', ';'],
    ['windows-1252-late.csv', 2001, 2001, 2_001_000, 'windows-1252', ','],
    ['utf16le-tab.txt', 4, 4, 254_510, 'utf-16le', '\t'],
    ['utf16be-tab.txt', 2, 2, 3000, 'utf-16be', '\t'],
    ['utf8-bom-crlf.csv', 6, 4, 192_490, 'utf-8', ','],
    ['utf8-accents.csv', 2, 2, 1500, 'utf-8', ','],
    ['mixed-line-endings.csv', 4, 4, 1000, 'utf-8', ','],
    ['pipe-delimited.csv', 2, 2, 3000, 'utf-8', '|'],
    ['bad-rows.csv', 26, 7, 149_006, 'utf-8', ','],
  ])('%s: %d rows, %d valid, %d cents', async (name, rows, valid, totalCents, encoding, delimiter) => {
    const report = await validateFile(fixture(name));
    expect(report).toMatchObject({ rows, valid, invalid: rows - valid, totalCents, encoding, delimiter });
    expect(report.errors).toHaveLength(rows - valid);
  });

  it('lists every row that would not be sent, duplicates included, in file order', async () => {
    const report = await validateFile(fixture('bad-rows.csv'));
    expect(report.errors.map((e) => [e.line, e.invoiceNumber, e.code])).toEqual([
      [3, '', 'MISSING_INVOICE_NUMBER'],
      [4, '', 'MISSING_INVOICE_NUMBER'],
      [5, 'INV-2025-000000000001', 'INVOICE_NUMBER_TOO_LONG'],
      [7, 'INV-002', 'MISSING_AMOUNT'],
      [8, 'INV-003', 'INVALID_AMOUNT'],
      [9, 'INV-004', 'AMOUNT_NOT_POSITIVE'],
      [10, 'INV-005', 'AMOUNT_NOT_POSITIVE'],
      [11, 'INV-006', 'AMOUNT_NOT_POSITIVE'],
      [12, 'INV-007', 'AMOUNT_TOO_PRECISE'],
      [13, 'INV-008', 'AMOUNT_TOO_LARGE'],
      [16, 'INV-011', 'DESCRIPTION_TOO_LONG'],
      [19, 'INV-001', 'DUPLICATE_INVOICE'],
      [20, 'INV-009', 'DUPLICATE_INVOICE'],
      [22, 'INV-003', 'DUPLICATE_INVOICE'],
      [23, '', 'MISSING_INVOICE_NUMBER'],
      [24, 'INV-014', 'INVALID_AMOUNT'],
      [25, 'INV-015', 'MISSING_AMOUNT'],
      [26, 'INV-016', 'TOO_MANY_FIELDS'],
      [27, 'INV-017', 'INVALID_AMOUNT'],
    ]);
  });

  it('passes --columns and --delimiter through', async () => {
    expect(await validateFile(fixture('custom-headers.csv'), { columns: { invoice: 'Ref', amount: 'Gross' } })).toMatchObject({ rows: 2, valid: 2, totalCents: 3000 });
    expect(await validateFile(fixture('tie-delimiter.csv'), { delimiter: ';' })).toMatchObject({ rows: 2, valid: 2, totalCents: 1950, delimiter: ';' });
  });

  it.each([
    ['header-only.csv', 'FILE_NO_ROWS'],
    ['header-then-blank-lines.csv', 'FILE_NO_ROWS'],
    ['empty.csv', 'FILE_EMPTY'],
    ['missing-amount-column.csv', 'FILE_MISSING_COLUMN'],
    ['unterminated-quote.csv', 'FILE_UNTERMINATED_QUOTE'],
    ['mixed-encoding-late.csv', 'FILE_UNDECODABLE'],
  ])('%s throws %s', async (name, code) => {
    const error = await validateFile(fixture(name)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputFileError);
    expect(error).toMatchObject({ code });
  });
});

describe('reportToJson', () => {
  it('is exactly {format, sheet, header_line, decimal, rows, valid, invalid, total_amount, errors: [{line, invoice_number, code, message}]}', async () => {
    expect(reportToJson(await validateFile(fixture('utf8-bom-crlf.csv')))).toEqual({
      format: 'csv',
      sheet: null,
      header_line: 1,
      decimal: 'point',
      rows: 6,
      valid: 4,
      invalid: 2,
      total_amount: '1924.90',
      errors: [
        { line: 9, invoice_number: 'A-103', code: 'AMOUNT_TOO_PRECISE', message: '"12.3456" has more than two decimals' },
        { line: 13, invoice_number: 'A-103', code: 'DUPLICATE_INVOICE', message: 'the same invoice number is already on line 9; this row will not be sent' },
      ],
      warnings: [],
    });
  });

  it('lists warnings of rows that are sent: a malformed address, an unreadable due date (issue 19)', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'paylinks-warn-')), 'w.csv');
    await writeFile(file, 'invoice,amount,email,due date\nA-1,1.00,a@example.com,2030-01-31\nA-2,2.00,a@example;b@example.com,2030-02-30\nA-3,3.00,,\nA-4,x,bad,\n');
    const json = reportToJson(await validateFile(file));
    expect(json.valid).toBe(3);
    expect(json.warnings.map((w) => [w.line, w.code])).toEqual([
      [3, 'INVALID_EMAIL'],
      [3, 'INVALID_DUE_DATE'],
    ]);
    expect(json.warnings[0]!.message).toBe('no message is sent for this row: the e-mail address "a@example;b@example.com" holds more than one address: give one address per row');
  });
});

describe('formatReport', () => {
  it('summarises a clean file', async () => {
    expect(formatReport(await validateFile(fixture('invoices.csv')))).toBe(
      [
        'File:       fixtures/invoices.csv',
        'Encoding:   UTF-8',
        'Delimiter:  comma (,)',
        'Columns:    invoice number: "invoice_number" (column 1), amount: "amount" (column 4), description: "description" (column 5), e-mail address: "email" (column 3), customer name: "customer" (column 2), due date: "due_date" (column 6)',
        'Rows:       25 (25 valid, 0 invalid)',
        'Total:      58,713.09 in 25 valid rows',
        '',
        'All 25 rows are valid.',
      ].join('\n'),
    );
  });

  it('says how the file was read and lists the rows that would not be sent', async () => {
    const text = formatReport(await validateFile(fixture('utf8-bom-crlf.csv')));
    expect(text).toContain('Encoding:   UTF-8');
    expect(text).toContain('Columns:    invoice number: "Invoice #" (column 1), amount: "Amount Due" (column 3), description: "Memo" (column 4)');
    expect(text).toContain('Rows:       6 (4 valid, 2 invalid)');
    expect(text).toContain('2 rows would not be sent:\n  line 9: A-103 — AMOUNT_TOO_PRECISE: "12.3456" has more than two decimals\n');
    expect(text).toContain('line 13: A-103 — DUPLICATE_INVOICE: the same invoice number is already on line 9; this row will not be sent');
    expect(formatReport(await validateFile(fixture('windows-1252-semicolon.csv')))).toContain('Encoding:   Windows-1252 (Excel "CSV")\nDelimiter:  semicolon (;)');
    expect(formatReport(await validateFile(fixture('utf16le-tab.txt')))).toContain('Encoding:   UTF-16 LE (Excel "Unicode Text")\nDelimiter:  tab');
    expect(formatReport(await validateFile(fixture('bad-rows.csv')))).toContain('line 3: (no invoice number) — MISSING_INVOICE_NUMBER: the invoice number is empty');
  });

  it('lists at most 50 errors, then says how many more and where to see them', async () => {
    const file = path.join(tmp, 'sixty-bad.csv');
    const lines = ['invoice_number,amount'];
    for (let i = 1; i <= 60; i++) lines.push(`B-${i},oops`);
    lines.push('G-1,1.00');
    writeFileSync(file, lines.join('\n'));
    const text = formatReport(await validateFile(file));
    expect(text.split('\n').filter((l) => l.startsWith('  line '))).toHaveLength(50);
    expect(text).toContain('  line 51: B-50 — INVALID_AMOUNT: "oops" is not an amount\n  … and 10 more (use --json)');
    expect(text).toContain('60 rows would not be sent:');
  });
});
