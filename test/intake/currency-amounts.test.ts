/**
 * Issue 20, items 1 and 3: a currency column is read (rows in any currency
 * but USD are not sent), and amounts that read only one way are read.
 * The workbook was written by LibreOffice from currency-amounts.csv beside
 * it, every column as text (as a sheet whose columns are formatted as text
 * saves it):
 *   soffice --headless --infilter=CSV:44,34,76,1,1/2/2/2/3/2/4/2/5/2 --convert-to xlsx currency-amounts.csv
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInvoiceFile, type IntakeOptions, type IntakeRecord } from '../../src/intake/invoice-file.js';

const fixture = (name: string) => path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'fixtures', 'workbooks', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'paylinks-currency-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readFile(file: string, options?: IntakeOptions): Promise<IntakeRecord[]> {
  const input = await openInvoiceFile(file, options);
  const records: IntakeRecord[] = [];
  for await (const record of input.records) records.push(record);
  return records;
}

async function readText(name: string, text: string, options?: IntakeOptions): Promise<IntakeRecord[]> {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return readFile(file, options);
}

const outcome = (r: IntakeRecord) => [r.invoiceNumber, r.status === 'valid' ? r.amountCents : r.code];

describe('a currency column (LibreOffice workbook and its CSV)', () => {
  for (const name of ['currency-amounts.xlsx', 'currency-amounts.csv']) {
    it(`${name}: USD rows are read, EUR and GBP rows are CURRENCY_NOT_USD naming the currency; amounts that read one way are read`, async () => {
      const records = await readFile(fixture(name));
      expect(records.map(outcome)).toEqual([
        ['C-1', 10000],
        ['C-2', 'CURRENCY_NOT_USD'],
        ['C-3', 123450],
        ['C-4', 1050],
        ['C-5', 50],
        ['C-6', 500],
        ['C-7', 'AMOUNT_NOT_POSITIVE'],
        ['C-8', 'INVALID_AMOUNT'],
        ['C-9', 'CURRENCY_NOT_USD'],
        ['C-10', 123450],
      ]);
      const message = (invoice: string) => {
        const r = records.find((x) => x.invoiceNumber === invoice)!;
        return r.status === 'valid' ? '' : r.message;
      };
      expect(message('C-2')).toBe('the currency is "EUR", not US dollars (USD): Paywint charges USD only, and paylinks never converts, so this row is not sent');
      expect(message('C-9')).toContain('the currency is "GBP"');
      expect(message('C-7')).toContain('a trailing minus');
      expect(message('C-8')).toBe('"15%" is not an amount: it is a percentage');
    });
  }

  it('a currency column that is all USD is fine; its header may be ccy, currency or named with --columns', async () => {
    for (const header of ['ccy', 'Currency', 'CURRENCY_CODE']) {
      const records = await readText(`usd-${header}.csv`, `invoice_number,amount,${header}\nU-1,10.00,USD\nU-2,12.00,usd\nU-3,13.00,US$\n`);
      expect(records.map(outcome)).toEqual([
        ['U-1', 1000],
        ['U-2', 1200],
        ['U-3', 1300],
      ]);
    }
    const named = await readText('named.csv', 'invoice_number,amount,Money\nN-1,10.00,CAD\n', { columns: { currency: 'Money' } });
    expect(named.map(outcome)).toEqual([['N-1', 'CURRENCY_NOT_USD']]);
  });

  it('quotes at most a few dozen characters of a huge currency cell', async () => {
    const records = await readText('huge-currency.csv', `invoice_number,amount,currency\nH-1,10.00,${'E'.repeat(100_000)}\n`);
    const r = records[0]!;
    expect(r.status === 'invalid' && r.code).toBe('CURRENCY_NOT_USD');
    expect(r.status === 'invalid' && r.message.length).toBeLessThan(200);
  });
});

describe('amounts in a file: Swiss apostrophes in a point file, the mark still decided per file', () => {
  it("1'234.50 is 1234.50 in a point-decimal file; .5 contradicts a comma file", async () => {
    const point = await readText('swiss.csv', "invoice_number,amount\nS-1,1'234.50\nS-2,12.50\nS-3,2'000\n");
    expect(point.map(outcome)).toEqual([
      ['S-1', 123450],
      ['S-2', 1250],
      ['S-3', 200000],
    ]);
    const comma = await readText('comma.csv', 'invoice_number;amount\nK-1;12,50\nK-2;.5\n');
    expect(comma.map(outcome)).toEqual([
      ['K-1', 1250],
      ['K-2', 'INVALID_AMOUNT'],
    ]);
  });

  it('keeps refusing what reads two ways: 1,234 in a file that never says', async () => {
    const records = await readText('ambiguous.csv', 'invoice_number,amount\nA-1,"1,234"\nA-2,"1.500"\n');
    expect(records.map(outcome)).toEqual([
      ['A-1', 'AMBIGUOUS_AMOUNT'],
      ['A-2', 'AMBIGUOUS_AMOUNT'],
    ]);
  });
});
