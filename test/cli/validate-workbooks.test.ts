/**
 * `paylinks validate --json` on the workbooks and spreadsheet exports in
 * fixtures/workbooks (written by LibreOffice and exceljs) and the CSV traps
 * in fixtures/: every rule of reading a spreadsheet, as a user sees it.
 * Needs `npm run build` first (see test/helpers/cli.ts).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

interface Report {
  format: string;
  sheet: string | null;
  header_line: number;
  decimal: string | null;
  rows: number;
  valid: number;
  invalid: number;
  total_amount: string;
  errors: { line: number; invoice_number: string; code: string; message: string }[];
  error?: { code: string; message: string; line: number | null };
}

async function validate(file: string, ...flags: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const result = await runCli(['validate', file, '--json', ...flags]);
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

const workbooks = (name: string) => `fixtures/workbooks/${name}`;
const errorsOf = (report: Report) => report.errors.map((e) => [e.line, e.invoice_number, e.code]);
const messageOn = (report: Report, line: number) => report.errors.find((e) => e.line === line)?.message;

describe('validate: an Excel workbook written by LibreOffice (invoices.xlsx)', () => {
  it('reads the first sheet by content, cell values as held, with Excel row numbers', async () => {
    const { code, report } = await validate(workbooks('invoices.xlsx'));
    expect(code).toBe(1);
    expect(report).toMatchObject({ format: 'workbook', sheet: 'Invoices', header_line: 1, rows: 12, valid: 7, invalid: 5 });
    // 89.99 + 1250 + 1339.99 (C2+C3, cached) + 45.50 + 75.25 + 1234.56 (text) + 0.30: the row numbers skip the empty row 6.
    expect(report.total_amount).toBe('4035.59');
    expect(errorsOf(report)).toEqual([
      [4, 'INV-0003', 'AMOUNT_TOO_PRECISE'],
      [7, 'INV-0006', 'CELL_ERROR'],
      [8, 'INV-0007', 'CELL_ERROR'],
      [9, 'INV-0008', 'ROW_HIDDEN'],
      [14, 'Total', 'SUMMARY_ROW'],
    ]);
  });

  it('says what the sheet shows and what the cell holds: never rounds money', async () => {
    const { report } = await validate(workbooks('invoices.xlsx'));
    expect(messageOn(report, 4)).toBe(
      'the sheet shows 20.00 but the cell holds 19.999: more than two decimals, and paylinks never rounds money. Round it in the sheet (e.g. =ROUND(C4, 2)) or type the amount',
    );
    expect(messageOn(report, 7)).toBe('the amount cell (C7) holds the error #N/A (from =NA()): it is not sent, never read as zero. Fix the cell in the sheet');
    expect(messageOn(report, 8)).toContain('holds the error #DIV/0! (from =1/0)');
    expect(messageOn(report, 9)).toBe('this row is hidden in the sheet (by hand or by a filter), so it is not sent. Unhide it to send it, or delete it');
  });

  it('is recognised by content, not by its name', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-wb-'));
    try {
      const renamed = path.join(dir, 'export.csv');
      await copyFile(workbooks('invoices.xlsx'), renamed);
      const { report } = await validate(renamed);
      expect(report).toMatchObject({ format: 'workbook', rows: 12, valid: 7 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--sheet by name or number: title lines above the header, a filtered row, the header repeated, a "Grand total:" line', async () => {
    for (const sheet of ['March', 'march', '2']) {
      const { code, report } = await validate(workbooks('invoices.xlsx'), '--sheet', sheet);
      expect(code).toBe(1);
      expect(report).toMatchObject({ sheet: 'March', header_line: 3, rows: 6, valid: 3, total_amount: '212.45' });
      expect(errorsOf(report)).toEqual([
        [5, 'M-002', 'ROW_HIDDEN'],
        [7, 'Invoice #', 'HEADER_ROW'],
        [9, 'Grand total:', 'SUMMARY_ROW'],
      ]);
    }
  });
});

describe('validate: cells a spreadsheet program will not write on demand (odd-cells.xlsx, exceljs)', () => {
  it('formulas without a saved result and error values are row errors, never zero; the rest reads as held', async () => {
    const { report } = await validate(workbooks('odd-cells.xlsx'));
    expect(errorsOf(report)).toEqual([
      [2, 'ODD-01', 'CELL_ERROR'],
      [3, 'ODD-02', 'CELL_ERROR'],
      [4, '#N/A', 'CELL_ERROR'],
      [5, 'ODD-04', 'CELL_ERROR'],
      [9, 'ODD-08', 'AMOUNT_TOO_PRECISE'],
      [11, 'ODD-10', 'INVALID_AMOUNT'],
      [12, 'ODD-11', 'TOO_MANY_FIELDS'],
    ]);
    // 20 (invoice 12345678901) + 30 + 2 (cached =1+1) + 89.99
    expect(report).toMatchObject({ rows: 11, valid: 4, total_amount: '141.99' });
    expect(messageOn(report, 2)).toBe(
      'the amount cell (B2) holds a formula (=B20*2) with no saved result: the file was saved by a program that does not calculate. Open it in Excel or LibreOffice and save it again',
    );
    expect(messageOn(report, 3)).toContain('holds the error #REF!');
    expect(messageOn(report, 4)).toContain('the invoice number cell (A4) holds the error #N/A');
    expect(messageOn(report, 5)).toContain('the description cell (C5) holds a formula');
    expect(messageOn(report, 9)).toContain('the sheet shows 0.30 but the cell holds 0.30000000000000004');
    expect(messageOn(report, 12)).toBe(
      'this row has a value in column F ("note beside the table"), which has no header, so it cannot be matched to a column. Give that column a header, or clear the cell',
    );
  });

  it('several sheets: the first by default, with the others named when it holds no invoices; a missing sheet is a file error', async () => {
    const first = await validate(workbooks('several-sheets.xlsx'));
    expect(first.code).toBe(2);
    expect(first.report.error).toMatchObject({ code: 'FILE_MISSING_COLUMN', line: 1 });
    expect(first.report.error!.message).toContain('This is sheet "Notes"; the workbook has 3 sheets: 1 "Notes", 2 "March", 3 "April" (hidden). Pick one with --sheet NAME or --sheet NUMBER');
    expect((await validate(workbooks('several-sheets.xlsx'), '--sheet', 'March')).report).toMatchObject({ sheet: 'March', rows: 2, valid: 2, total_amount: '30.50' });
    expect((await validate(workbooks('several-sheets.xlsx'), '--sheet', '3')).report).toMatchObject({ sheet: 'April', rows: 1, valid: 1, total_amount: '30.00' });
    const missing = await validate(workbooks('several-sheets.xlsx'), '--sheet', 'May');
    expect(missing.code).toBe(2);
    expect(missing.report.error).toMatchObject({ code: 'FILE_MISSING_SHEET' });
    expect(missing.report.error!.message).toContain('the workbook has no sheet "May"; its sheets are 1: "Notes", 2: "March", 3: "April"');
  });
});

describe('validate: CSV exports of the same sheet by LibreOffice', () => {
  it('"as shown" (the default): currency signs and thousands separators read; errors, scientific invoice numbers and totals caught; the hidden row is in the file', async () => {
    for (const file of ['invoices-as-shown.csv', 'invoices-1252-semicolon.csv', 'invoices-utf16-tab.txt']) {
      const { report } = await validate(workbooks(file));
      expect(report, file).toMatchObject({ format: 'csv', rows: 12, valid: 8, total_amount: '3990.34' });
      expect(errorsOf(report), file).toEqual([
        [7, 'INV-0006', 'CELL_ERROR'],
        [8, 'INV-0007', 'CELL_ERROR'],
        [11, '1.24E+02', 'INVOICE_NUMBER_SCIENTIFIC'],
        [14, 'Total', 'SUMMARY_ROW'],
      ]);
    }
    const { report } = await validate(workbooks('invoices-as-shown.csv'));
    expect(messageOn(report, 7)).toBe(
      'the amount is the spreadsheet error #N/A: a formula failed in the sheet this file was saved from. It is not sent, never read as zero. Fix the formula and save the file again',
    );
  });

  it('"as held": 19.999 is too precise, 124 is a plain invoice number', async () => {
    const { report } = await validate(workbooks('invoices-as-held.csv'));
    expect(errorsOf(report)).toEqual([
      [4, 'INV-0003', 'AMOUNT_TOO_PRECISE'],
      [7, 'INV-0006', 'CELL_ERROR'],
      [8, 'INV-0007', 'CELL_ERROR'],
      [14, 'Total', 'SUMMARY_ROW'],
    ]);
    expect(report).toMatchObject({ valid: 8, total_amount: '4045.59' });
  });

  it('title lines above the header are skipped; the header line is reported', async () => {
    const { report } = await validate(workbooks('march-title-lines.csv'));
    expect(report).toMatchObject({ header_line: 3, rows: 6, valid: 4, total_amount: '462.95' });
    expect(errorsOf(report)).toEqual([
      [7, 'Invoice #', 'HEADER_ROW'],
      [9, 'Grand total:', 'SUMMARY_ROW'],
    ]);
  });
});

describe('validate: the decimal mark is decided per file', () => {
  it('a file with decimal commas: 1,234 is 1.234, too precise, never 1234', async () => {
    const { report } = await validate(workbooks('decimal-comma.csv'));
    expect(report).toMatchObject({ decimal: 'comma', rows: 4, valid: 3, total_amount: '1327.06' });
    expect(errorsOf(report)).toEqual([[4, 'DE-003', 'AMOUNT_TOO_PRECISE']]);
    expect(messageOn(report, 4)).toBe('"1,234" has more than two decimals, read with this file\'s decimal comma (as line 2 shows: "12,50")');
  });

  it('a file with decimal points: 1,234 is 1234, even before the amount that decides', async () => {
    const { code, report } = await validate(workbooks('decimal-point.csv'));
    expect(code).toBe(0);
    expect(report).toMatchObject({ decimal: 'point', rows: 3, valid: 3, total_amount: '3246.50' });
  });

  it('a file that never tells: 1,234 asks for --decimal; --decimal decides', async () => {
    const unclear = await validate(workbooks('decimal-unclear.csv'));
    expect(unclear.report).toMatchObject({ decimal: null, valid: 1, total_amount: '80.00' });
    expect(errorsOf(unclear.report)).toEqual([
      [2, 'UN-001', 'AMBIGUOUS_AMOUNT'],
      [4, 'UN-003', 'AMBIGUOUS_AMOUNT'],
    ]);
    expect(messageOn(unclear.report, 2)).toBe(
      '"1,234" reads as 1234 with a decimal point, or as 1.234 with a decimal comma, and no other amount in the file says which it uses: state it with --decimal point or --decimal comma',
    );
    expect((await validate(workbooks('decimal-unclear.csv'), '--decimal', 'point')).report).toMatchObject({ decimal: 'point', valid: 3, total_amount: '3814.00' });
    const comma = await validate(workbooks('decimal-unclear.csv'), '--decimal', 'comma');
    expect(errorsOf(comma.report)).toEqual([
      [2, 'UN-001', 'AMOUNT_TOO_PRECISE'],
      [4, 'UN-003', 'AMOUNT_TOO_PRECISE'],
    ]);
  });

  it('an amount against the stated mark is invalid, saying why', async () => {
    const { report } = await validate(workbooks('decimal-point.csv'), '--decimal', 'comma');
    expect(messageOn(report, 3)).toBe('"12.50" is written with a decimal point, but this file\'s amounts use a decimal comma (--decimal comma)');
  });

  it('rejects a bad --decimal as a usage error', async () => {
    const result = await runCli(['validate', workbooks('decimal-point.csv'), '--decimal', 'dot-ish']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('expected point or comma, got "dot-ish"');
  });
});

describe('validate: traps of hand-made and scripted exports', () => {
  it('a record with more values than the header is a row error pointing at an unquoted separator; trailing empty fields are fine', async () => {
    const { report } = await validate('fixtures/too-many-fields.csv');
    expect(errorsOf(report)).toEqual([
      [2, 'B-1', 'TOO_MANY_FIELDS'],
      [5, 'B-4', 'TOO_MANY_FIELDS'],
      [6, 'B-5', 'INVALID_AMOUNT'],
    ]);
    expect(messageOn(report, 2)).toBe(
      'this row has 4 values but the header has 3 columns, so its values cannot be matched to their columns. Most likely a value holds an unquoted comma: ' +
        'a thousands separator (1,234.56) or a comma in a text. Put that value in quotes ("…"), or save the file again from the spreadsheet program. Beyond the header: "Consulting"',
    );
    expect(messageOn(report, 6)).toContain('this looks like 1,234.56 split by an unquoted comma');
    expect(report).toMatchObject({ valid: 2, total_amount: '111.50' });
  });

  it('totals lines are SUMMARY_ROW, never an invoice: no $1.2M link for "Total"', async () => {
    const { report } = await validate('fixtures/summary-rows.csv');
    expect(errorsOf(report)).toEqual([
      [5, 'Subtotal:', 'SUMMARY_ROW'],
      [6, 'GRAND TOTAL', 'SUMMARY_ROW'],
      [7, 'Totals', 'SUMMARY_ROW'],
      [8, 'sum', 'SUMMARY_ROW'],
      [9, 'Total due', 'SUMMARY_ROW'],
      [10, 'Total', 'SUMMARY_ROW'],
    ]);
    expect(report).toMatchObject({ valid: 3, total_amount: '35.00' });
  });
});
