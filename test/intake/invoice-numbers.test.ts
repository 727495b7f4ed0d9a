/**
 * Issue 20, item 2 (within a file): invoice numbers a person reads as one
 * invoice are one; a number a spreadsheet turned into a decimal is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInvoiceFile, type IntakeRecord } from '../../src/intake/invoice-file.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paylinks-invoice-numbers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function read(name: string, text: string): Promise<IntakeRecord[]> {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  const input = await openInvoiceFile(file);
  const records: IntakeRecord[] = [];
  for await (const record of input.records) records.push(record);
  return records;
}

describe('duplicate invoice numbers within a file', () => {
  it('INV-7, " INV-7 " and inv-7 are one invoice: the first is sent as written, the others are duplicates of its line', async () => {
    const records = await read('case.csv', 'invoice_number,amount\nINV-7,10.00\n" INV-7 ",11.00\ninv-7,12.00\nInv-8,13.00\n');
    expect(records.map((r) => [r.line, r.invoiceNumber, r.status])).toEqual([
      [2, 'INV-7', 'valid'],
      [3, 'INV-7', 'duplicate'],
      [4, 'inv-7', 'duplicate'],
      [5, 'Inv-8', 'valid'],
    ]);
    expect(records[2]).toMatchObject({ code: 'DUPLICATE_INVOICE', message: 'the same invoice number is already on line 2; this row will not be sent' });
  });

  it('the number is sent as written: a lower-case first row keeps its case', async () => {
    const records = await read('lower-first.csv', 'invoice_number,amount\ninv-9,10.00\nINV-9,11.00\n');
    expect(records[0]).toMatchObject({ status: 'valid', invoiceNumber: 'inv-9', amountCents: 1000 });
    expect(records[1]).toMatchObject({ status: 'duplicate', invoiceNumber: 'INV-9' });
  });
});

describe('an invoice number a spreadsheet turned into a decimal', () => {
  it('123.0 is a row error asking for the column as text, as 1.23E+05 is', async () => {
    const records = await read('float.csv', 'invoice_number,amount\n123.0,10.00\n1.23E+05,11.00\n124,12.00\n125.5,13.00\n');
    expect(records.map((r) => [r.line, r.status, r.status === 'valid' ? null : r.code])).toEqual([
      [2, 'invalid', 'INVOICE_NUMBER_DECIMAL'],
      [3, 'invalid', 'INVOICE_NUMBER_SCIENTIFIC'],
      [4, 'valid', null],
      [5, 'valid', null],
    ]);
    const first = records[0]!;
    expect(first.status === 'invalid' && first.message).toMatch(/"123\.0".*is it 123\?.*Format the column as text/);
  });
});
