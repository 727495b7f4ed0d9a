/**
 * `paylinks validate` as a user runs it: the real executable, stdout, stderr
 * and the exit code. Needs `npm run build` first (see test/helpers/cli.ts).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('paylinks validate', () => {
  it('exits 0 and prints the JSON report when every row is valid', async () => {
    const result = await runCli(['validate', 'fixtures/invoices.csv', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ format: 'csv', sheet: null, header_line: 1, decimal: 'point', rows: 25, valid: 25, invalid: 0, total_amount: '58713.09', errors: [], warnings: [] });
    expect(result.stderr).toBe('');
  });

  it('exits 1 when some rows are invalid, listing them with line and code', async () => {
    const result = await runCli(['validate', 'fixtures/utf8-bom-crlf.csv', '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
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

  it('prints a summary for a person without --json', async () => {
    const result = await runCli(['validate', 'fixtures/bad-rows.csv']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Rows:       26 (7 valid, 19 invalid)');
    expect(result.stdout).toContain('  line 12: INV-007 — AMOUNT_TOO_PRECISE: "12.345" has more than two decimals');
  });

  it('reads Excel "Unicode Text" and Windows-1252 files', async () => {
    expect(JSON.parse((await runCli(['validate', 'fixtures/utf16le-tab.txt', '--json'])).stdout)).toMatchObject({ rows: 4, valid: 4, total_amount: '2545.10' });
    const result = await runCli(['validate', 'fixtures/windows-1252-semicolon.csv']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Encoding:   Windows-1252');
  });

  it('exits 2 on a file error: JSON on stdout with --json, the message and code on stderr', async () => {
    const result = await runCli(['validate', 'fixtures/unterminated-quote.csv', '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'FILE_UNTERMINATED_QUOTE',
        line: 5,
        message: 'fixtures/unterminated-quote.csv:5: a quoted field starts here and is never closed: add the closing quote (") or remove the opening one',
      },
    });
    expect(result.stderr).toContain('[FILE_UNTERMINATED_QUOTE]');
  });

  it.each([
    ['fixtures/no-such-file.csv', 'FILE_NOT_FOUND'],
    ['fixtures/header-only.csv', 'FILE_NO_ROWS'],
    ['fixtures/missing-amount-column.csv', 'FILE_MISSING_COLUMN'],
    ['fixtures/workbook.xlsx.csv', 'FILE_UNDECODABLE'],
  ])('exits 2 for %s (%s)', async (file, code) => {
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`[${code}]`);
  });

  it('takes --columns and --delimiter', async () => {
    const columns = await runCli(['validate', 'fixtures/custom-headers.csv', '--columns', 'invoice=Ref,amount=Gross,description=Details', '--json']);
    expect(columns.code).toBe(0);
    expect(JSON.parse(columns.stdout)).toMatchObject({ rows: 2, valid: 2, total_amount: '30.00' });
    const delimiter = await runCli(['validate', 'fixtures/tie-delimiter.csv', '--delimiter', ';', '--json']);
    expect(delimiter.code).toBe(0);
    expect(JSON.parse(delimiter.stdout)).toMatchObject({ rows: 2, valid: 2, total_amount: '19.50' });
  });

  it('rejects a bad --delimiter or --columns as a usage error (exit 2) saying what is expected', async () => {
    const delimiter = await runCli(['validate', 'fixtures/invoices.csv', '--delimiter', 'x']);
    expect(delimiter.code).toBe(2);
    expect(delimiter.stderr).toContain('expected one of  ,  ;  |  tab  (or \\t), got "x"');
    const columns = await runCli(['validate', 'fixtures/invoices.csv', '--columns', 'customer=Client']);
    expect(columns.code).toBe(2);
    expect(columns.stderr).toContain('unknown column "customer": expected invoice, amount, description, currency, email, name or due');
  });
});
