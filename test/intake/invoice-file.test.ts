/**
 * openInvoiceFile on real files: the layout found, every record with its
 * line, cells and verdict, and the file errors with their code and line.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InputFileError } from '../../src/core/errors.js';
import { invoiceKey } from '../../src/core/invoice-key.js';
import { openInvoiceFile, type IntakeOptions, type IntakeRecord } from '../../src/intake/invoice-file.js';

const fixture = (name: string) => path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'fixtures', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'paylinks-intake-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(file: string, options?: IntakeOptions) {
  const input = await openInvoiceFile(file, options);
  const records: IntakeRecord[] = [];
  for await (const record of input.records) records.push(record);
  return { input, layout: input.layout, records };
}

/** The file error, whether openInvoiceFile or the iteration finds it. */
async function fileError(file: string, options?: IntakeOptions): Promise<InputFileError> {
  try {
    await readAll(file, options);
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error(`expected ${file} to fail`);
}

/** [line, invoice number, status, code or amount in cents] per record. */
function summary(records: IntakeRecord[]) {
  return records.map((r) => [r.line, r.invoiceNumber, r.status, r.status === 'valid' ? r.amountCents : r.code]);
}

describe('openInvoiceFile: the clean sample', () => {
  it('reads all 25 invoices of fixtures/invoices.csv as valid, with every column kept', async () => {
    const { layout, records, input } = await readAll(fixture('invoices.csv'));
    expect(layout).toEqual({
      headers: ['invoice_number', 'customer', 'email', 'amount', 'description', 'due_date'],
      invoice: 0,
      amount: 3,
      description: 4,
      name: 1,
      email: 2,
      due: 5,
      delimiter: ',',
      encoding: 'utf-8',
      format: 'csv',
      sheet: null,
      headerLine: 1,
      decimal: 'point',
    });
    expect(records).toHaveLength(25);
    expect(records.every((r) => r.status === 'valid')).toBe(true);
    expect(records.map((r) => r.index)).toEqual([...Array(25).keys()]);
    expect(records.map((r) => r.line)).toEqual([...Array(25).keys()].map((i) => i + 2));
    expect(records[0]).toEqual({
      index: 0,
      line: 2,
      cells: ['INV-2025-0001', 'Acme Corporation', 'ap@acme.example', '1250.00', 'Consulting, March 2025', '2025-04-15'],
      status: 'valid',
      invoiceNumber: 'INV-2025-0001',
      amountCents: 125000,
      description: 'Consulting, March 2025',
    });
    expect(records.reduce((sum, r) => sum + (r.status === 'valid' ? r.amountCents : 0), 0)).toBe(5_871_309);
    expect(input.sha256()).toBe(createHash('sha256').update(readFileSync(fixture('invoices.csv'))).digest('hex'));
  });
});

describe('openInvoiceFile: files as Excel and accounting tools save them', () => {
  it('Windows-1252 with semicolons and decimal commas (Excel "CSV", European locale)', async () => {
    const { layout, records } = await readAll(fixture('windows-1252-semicolon.csv'));
    expect(layout).toMatchObject({ headers: ['Invoice No', 'Client', 'Amount', 'Description'], delimiter: ';', encoding: 'windows-1252', invoice: 0, amount: 2, description: 3 });
    expect(records.map((r) => (r.status === 'valid' ? [r.line, r.invoiceNumber, r.amountCents, r.description, r.cells[1]] : r.code))).toEqual([
      [2, 'FR-2025-001', 123456, "Café crème – réunion d'équipe", 'Café Lumière'],
      [3, 'DE-2025-002', 8990, 'Beratung für Qualitätsprüfung', 'Müller GmbH'],
      [4, 'ES-2025-003', 45000, 'Año nuevo: piñatas y señales', 'Peña y Núñez'],
      [5, 'FR-2025-004', 1250, 'Abonnement mensuel 12 €', 'Société Générale'],
      [6, 'DE-2025-005', 200000, 'Lieferung; Montage', 'Straße AG'],
    ]);
  });

  it('Windows-1252 whose first accent is past the first 64 KiB: switches on the way, and says so in the layout', async () => {
    const input = await openInvoiceFile(fixture('windows-1252-late.csv'));
    expect(input.layout.encoding).toBe('utf-8');
    const records: IntakeRecord[] = [];
    for await (const record of input.records) records.push(record);
    expect(input.layout.encoding).toBe('windows-1252');
    expect(records).toHaveLength(2001);
    expect(records.every((r) => r.status === 'valid')).toBe(true);
    expect(records.at(-1)).toMatchObject({ line: 2002, invoiceNumber: 'LATE-2001', description: 'Crème brûlée for the team' });
  });

  it('UTF-16 LE with BOM, tab-delimited (Excel "Unicode Text"), header aliases', async () => {
    const { layout, records } = await readAll(fixture('utf16le-tab.txt'));
    expect(layout).toEqual({
      headers: ['Invoice #', 'Customer', 'Amount Due', 'Memo'],
      invoice: 0,
      amount: 2,
      description: 3,
      name: 1,
      delimiter: '\t',
      encoding: 'utf-16le',
      format: 'csv',
      sheet: null,
      headerLine: 1,
      decimal: 'point',
    });
    expect(records.map((r) => (r.status === 'valid' ? [r.line, r.invoiceNumber, r.amountCents, r.description, r.cells[1]] : r.code))).toEqual([
      [2, 'UK-001', 120000, 'Zürich office – Q1 review', 'Smith & Sons'],
      [3, 'UK-002', 30000, 'Tab\there and "quotes"', 'Núñez Ltd'],
      [4, 'UK-003', 4510, 'Årsavgift 2025 €', 'Øresund A/S'],
      [5, 'UK-004', 100000, '請求書 🧾', '日本商事'],
    ]);
  });

  it('UTF-16 BE with BOM', async () => {
    const { layout, records } = await readAll(fixture('utf16be-tab.txt'));
    expect(layout.encoding).toBe('utf-16be');
    expect(records.map((r) => (r.status === 'valid' ? r.description : r.code))).toEqual(['Été à Genève', 'Привет']);
  });

  it('UTF-8 without BOM is not mistaken for Windows-1252', async () => {
    const { layout, records } = await readAll(fixture('utf8-accents.csv'));
    expect(layout.encoding).toBe('utf-8');
    expect(records.map((r) => (r.status === 'valid' ? r.description : r.code))).toEqual(['Crème brûlée', 'Ñandú 🧾']);
  });

  it('UTF-8 with BOM and CRLF: quoted commas, quotes and line breaks, blank lines, line numbers after them', async () => {
    const { layout, records } = await readAll(fixture('utf8-bom-crlf.csv'));
    expect(layout).toEqual({
      headers: ['Invoice #', 'Customer', 'Amount Due', 'Memo', 'Region'],
      invoice: 0,
      amount: 2,
      description: 3,
      name: 1,
      delimiter: ',',
      encoding: 'utf-8',
      format: 'csv',
      sheet: null,
      headerLine: 1,
      decimal: 'point',
    });
    expect(summary(records)).toEqual([
      [2, 'A-100', 'valid', 25000],
      [4, 'A-101', 'valid', 9990],
      [8, 'A-102', 'valid', 150000],
      [9, 'A-103', 'invalid', 'AMOUNT_TOO_PRECISE'],
      [10, 'A-104', 'valid', 7500],
      [13, 'A-103', 'duplicate', 'DUPLICATE_INVOICE'],
    ]);
    expect(records[0]!.cells).toEqual(['A-100', 'Smith, Jones & Co', '$250.00', 'Website hosting, Q1', 'West']);
    expect(records[1]).toMatchObject({ cells: ['A-101', 'The "Best" Bakery', '99.90', 'Cake order:\r\n3 tiers, "rush"', 'East'], description: 'Cake order:\r\n3 tiers, "rush"' });
    expect(records[2]).toMatchObject({ description: null });
    expect(records[4]!.cells[1]).toBe('Multi\r\nline\r\ncustomer');
    expect(records[5]).toMatchObject({ message: 'the same invoice number is already on line 9; this row will not be sent' });
  });

  it('mixed LF, CRLF and lone CR line ends, and no newline at the end', async () => {
    const { records } = await readAll(fixture('mixed-line-endings.csv'));
    expect(summary(records)).toEqual([
      [2, 'M-1', 'valid', 100],
      [3, 'M-2', 'valid', 200],
      [4, 'M-3', 'valid', 300],
      [6, 'M-4', 'valid', 400],
    ]);
    expect(records.map((r) => r.cells)).toEqual([
      ['M-1', '1.00'],
      ['M-2', '2.00'],
      ['M-3', '3.00'],
      ['M-4', '4.00'],
    ]);
  });

  it('pipe delimiter, detected, with a quoted pipe', async () => {
    const { layout, records } = await readAll(fixture('pipe-delimited.csv'));
    expect(layout.delimiter).toBe('|');
    expect(records.map((r) => (r.status === 'valid' ? r.description : r.code))).toEqual(['Pipe, with comma', 'Quoted | pipe']);
    expect((await readAll(fixture('pipe-delimited.csv'), { delimiter: '|' })).records).toHaveLength(2);
  });
});

describe('openInvoiceFile: columns and delimiter named explicitly', () => {
  it('--delimiter reads a file whose header fools detection', async () => {
    expect((await fileError(fixture('tie-delimiter.csv'))).code).toBe('FILE_MISSING_COLUMN');
    const { layout, records } = await readAll(fixture('tie-delimiter.csv'), { delimiter: ';' });
    expect(layout).toMatchObject({ headers: ['Invoice', 'Amount, USD', 'Notes, internal'], delimiter: ';', invoice: 0, amount: 1, description: null });
    expect(summary(records)).toEqual([
      [2, 'T-1', 'valid', 1250],
      [3, 'T-2', 'valid', 700],
    ]);
  });

  it('--columns names columns no alias matches', async () => {
    const error = await fileError(fixture('custom-headers.csv'));
    expect(error.code).toBe('FILE_MISSING_COLUMN');
    expect(error.line).toBe(1);
    const { layout, records } = await readAll(fixture('custom-headers.csv'), { columns: { invoice: 'ref', amount: 'GROSS', description: 'details' } });
    expect(layout).toMatchObject({ invoice: 0, amount: 2, description: 3 });
    expect(records.map((r) => (r.status === 'valid' ? [r.invoiceNumber, r.amountCents, r.description] : r.code))).toEqual([
      ['C-1', 1000, 'First'],
      ['C-2', 2000, 'Second'],
    ]);
  });

  it('--columns naming a column that is not there is FILE_MISSING_COLUMN naming it', async () => {
    const error = await fileError(fixture('invoices.csv'), { columns: { amount: 'Net' } });
    expect(error.code).toBe('FILE_MISSING_COLUMN');
    expect(error.message).toContain('"Net"');
  });

  it('--columns settles an ambiguous amount', async () => {
    expect((await fileError(fixture('ambiguous-amount.csv'))).code).toBe('FILE_MALFORMED');
    const { records } = await readAll(fixture('ambiguous-amount.csv'), { columns: { amount: 'total' } });
    expect(summary(records)).toEqual([[2, 'X-1', 'valid', 1200]]);
  });

  it('a delimiter that is not one character is a configuration error', async () => {
    await expect(openInvoiceFile(fixture('invoices.csv'), { delimiter: ',,' })).rejects.toThrow(ConfigError);
    await expect(openInvoiceFile(fixture('invoices.csv'), { delimiter: '"' })).rejects.toThrow(/expected one character other than a quote/);
  });
});

describe('openInvoiceFile: row checks', () => {
  it('reports every kind of bad row with its line, first problem by priority invoice → amount → description', async () => {
    const { records } = await readAll(fixture('bad-rows.csv'));
    expect(summary(records)).toEqual([
      [2, 'INV-001', 'valid', 10000],
      [3, '', 'invalid', 'MISSING_INVOICE_NUMBER'],
      [4, '', 'invalid', 'MISSING_INVOICE_NUMBER'],
      [5, 'INV-2025-000000000001', 'invalid', 'INVOICE_NUMBER_TOO_LONG'],
      [6, 'INV-2025-00000000001', 'valid', 1000],
      [7, 'INV-002', 'invalid', 'MISSING_AMOUNT'],
      [8, 'INV-003', 'invalid', 'INVALID_AMOUNT'],
      [9, 'INV-004', 'invalid', 'AMOUNT_NOT_POSITIVE'],
      [10, 'INV-005', 'invalid', 'AMOUNT_NOT_POSITIVE'],
      [11, 'INV-006', 'invalid', 'AMOUNT_NOT_POSITIVE'],
      [12, 'INV-007', 'invalid', 'AMOUNT_TOO_PRECISE'],
      [13, 'INV-008', 'invalid', 'AMOUNT_TOO_LARGE'],
      [14, 'INV-009', 'valid', 123456],
      [15, 'INV-010', 'valid', 7550],
      [16, 'INV-011', 'invalid', 'DESCRIPTION_TOO_LONG'],
      [17, 'INV-012', 'valid', 2000],
      [18, 'INV-013', 'valid', 2000],
      [19, 'INV-001', 'duplicate', 'DUPLICATE_INVOICE'],
      [20, 'INV-009', 'duplicate', 'DUPLICATE_INVOICE'],
      [21, 'inv-018', 'valid', 3000],
      [22, 'INV-003', 'duplicate', 'DUPLICATE_INVOICE'],
      [23, '', 'invalid', 'MISSING_INVOICE_NUMBER'],
      [24, 'INV-014', 'invalid', 'INVALID_AMOUNT'],
      [25, 'INV-015', 'invalid', 'MISSING_AMOUNT'],
      [26, 'INV-016', 'invalid', 'TOO_MANY_FIELDS'],
      [27, 'INV-017', 'invalid', 'INVALID_AMOUNT'],
    ]);
  });

  it('writes messages a person can act on', async () => {
    const { records } = await readAll(fixture('bad-rows.csv'));
    const message = (line: number) => {
      const record = records.find((r) => r.line === line)!;
      return record.status === 'valid' ? '' : record.message;
    };
    expect(message(3)).toBe('the invoice number is empty');
    expect(message(5)).toBe('the invoice number is 21 characters long; Paywint accepts at most 20');
    expect(message(12)).toBe('"12.345" has more than two decimals, read with this file\'s decimal point (as line 2 shows: "100.00")');
    expect(message(16)).toBe('the description is 256 characters long; Paywint accepts at most 255');
    expect(message(19)).toBe('the same invoice number is already on line 2; this row will not be sent');
    expect(message(20)).toBe('the same invoice number is already on line 14; this row will not be sent');
    expect(message(22)).toBe('the same invoice number is already on line 8; this row will not be sent');
  });

  it('counts characters as Paywint does: 255 emoji are 255 characters', async () => {
    const { records } = await readAll(fixture('bad-rows.csv'));
    const emoji = records.find((r) => r.line === 18)!;
    expect(emoji.status).toBe('valid');
    expect(emoji.status === 'valid' && [...(emoji.description ?? '')].length).toBe(255);
  });

  it('pads short rows to the header width; cuts a row with too many values to it, quoting the rest in the message', async () => {
    const { records } = await readAll(fixture('bad-rows.csv'));
    expect(records.find((r) => r.line === 25)!.cells).toEqual(['INV-015', 'Acme', '', '']);
    const extra = records.find((r) => r.line === 26)!;
    expect(extra.cells).toEqual(['INV-016', 'Acme', '15.00', 'Extra cells']);
    expect(extra.status !== 'valid' && extra.message).toContain('Beyond the header: "kept", "here"');
  });

  it('keeps cells as decoded (untrimmed) and trims the values it checks', async () => {
    const { records } = await readAll(fixture('bad-rows.csv'));
    expect(records.find((r) => r.line === 20)).toMatchObject({ cells: [' INV-009 ', 'Acme', '5.00', 'Duplicate of line 14 with spaces around'], invoiceNumber: 'INV-009' });
  });
});

describe('openInvoiceFile: file errors', () => {
  it.each([
    ['empty.csv', 'FILE_EMPTY', undefined, 'the file is empty'],
    ['blank-lines-only.csv', 'FILE_EMPTY', undefined, 'no header line'],
    ['missing-amount-column.csv', 'FILE_MISSING_COLUMN', 1, 'no amount column'],
    ['ambiguous-amount.csv', 'FILE_MALFORMED', 1, '--columns amount='],
    ['unterminated-quote.csv', 'FILE_UNTERMINATED_QUOTE', 5, 'a quoted field starts here and is never closed'],
    ['stray-quote.csv', 'FILE_MALFORMED', 3, 'a quote (") appears in the middle of a field'],
    ['bad-closing-quote.csv', 'FILE_MALFORMED', 2, 'the quote that ends it on line 3 is followed by "G"'],
    ['mixed-encoding.csv', 'FILE_UNDECODABLE', 4, 'the file mixes two encodings'],
    ['mixed-encoding-late.csv', 'FILE_UNDECODABLE', 2002, 'the file mixes two encodings'],
    ['workbook.xlsx.csv', 'FILE_UNDECODABLE', undefined, 'Excel workbook'],
    ['nul-bytes.csv', 'FILE_UNDECODABLE', 2, 'NUL bytes'],
  ])('%s: %s at line %s', async (name, code, line, text) => {
    const error = await fileError(fixture(name));
    expect(error.code).toBe(code);
    expect(error.line).toBe(line);
    expect(error.message).toContain(text);
    expect(error.message.startsWith(line === undefined ? `${fixture(name)}: ` : `${fixture(name)}:${line}: `)).toBe(true);
  });

  it('a missing file is FILE_NOT_FOUND; a folder is FILE_UNREADABLE', async () => {
    await expect(openInvoiceFile(fixture('no-such-file.csv'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(openInvoiceFile(tmp)).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
  });

  it('a header with no rows opens; the caller sees no records (FILE_NO_ROWS is the caller’s to raise)', async () => {
    expect((await readAll(fixture('header-only.csv'))).records).toEqual([]);
    expect((await readAll(fixture('header-then-blank-lines.csv'))).records).toEqual([]);
  });

  it('the undecodable line of a mixed file past 64 KiB comes while iterating', async () => {
    const input = await openInvoiceFile(fixture('mixed-encoding-late.csv'));
    let seen = 0;
    const iterate = async () => {
      for await (const _record of input.records) seen++;
    };
    await expect(iterate()).rejects.toMatchObject({ code: 'FILE_UNDECODABLE', line: 2002 });
    expect(seen).toBeGreaterThan(0);
  });

  it('a quote left open in a large file is reported where it opens, within bounded memory', async () => {
    const file = path.join(tmp, 'open-quote-large.csv');
    const rows = ['invoice_number,amount,description'];
    for (let i = 1; i <= 5000; i++) rows.push(`Q-${i},1.00,row ${i}`);
    rows.push('Q-5001,2.00,"this quote never closes');
    for (let i = 5002; i <= 40000; i++) rows.push(`Q-${i},1.00,row ${i} padding padding padding`);
    writeFileSync(file, rows.join('\n'));
    const error = await fileError(file);
    expect(error.code).toBe('FILE_UNTERMINATED_QUOTE');
    expect(error.line).toBe(5002);
    expect(error.message).toContain('is not closed within 1,000,000 characters');
  });
});

describe('openInvoiceFile: streaming', () => {
  it('gets the line of every record right across chunk boundaries, with multi-line records and blank lines', async () => {
    const file = path.join(tmp, 'many-lines.csv');
    const lines = ['invoice_number,amount,description'];
    const expected: [number, string][] = [];
    for (let i = 1; i <= 20000; i++) {
      if (i % 11 === 0) lines.push('');
      if (i % 13 === 0) lines.push(',,');
      const invoice = `L-${i}`;
      expected.push([lines.length + 1, invoice]);
      if (i % 7 === 0) {
        lines.push(`${invoice},1.00,"first line`, 'second, line', `third "" line"`);
      } else {
        lines.push(`${invoice},1.00,plain`);
      }
    }
    writeFileSync(file, lines.join('\r\n'));
    const { records } = await readAll(file);
    expect(records.map((r) => [r.line, r.invoiceNumber])).toEqual(expected);
    expect(records.filter((r) => r.status === 'valid')).toHaveLength(20000);
    expect(records[6]).toMatchObject({ description: 'first line\r\nsecond, line\r\nthird " line' });
  });

  it('reads the file again on every iteration, and knows its SHA-256 only after a full read', async () => {
    const input = await openInvoiceFile(fixture('utf8-bom-crlf.csv'));
    expect(() => input.sha256()).toThrow(/read to the end/);
    for await (const _record of input.records) break;
    expect(() => input.sha256()).toThrow(/read to the end/);
    const first: IntakeRecord[] = [];
    for await (const record of input.records) first.push(record);
    const second: IntakeRecord[] = [];
    for await (const record of input.records) second.push(record);
    expect(second).toEqual(first);
    expect(input.sha256()).toBe(createHash('sha256').update(readFileSync(fixture('utf8-bom-crlf.csv'))).digest('hex'));
  });

  it('notices a header changed between opening and reading', async () => {
    const file = path.join(tmp, 'changing.csv');
    writeFileSync(file, 'invoice_number,amount\nA-1,1.00\n');
    const input = await openInvoiceFile(file);
    writeFileSync(file, 'invoice_number,amount,description\nA-1,1.00,x\n');
    const iterate = async () => {
      for await (const _record of input.records);
    };
    await expect(iterate()).rejects.toMatchObject({ code: 'FILE_MALFORMED', line: 1 });
  });
});

describe('openInvoiceFile: spreadsheet traps in files made here', () => {
  it('finds a semicolon header below a title line that has no delimiter in it', async () => {
    const file = path.join(tmp, 'title-semicolon.csv');
    writeFileSync(file, 'Open invoices\n\nInvoice No;Amount;Memo\nT-1;12,50;One\nT-2;1.234,56;Two\n');
    const { layout, records } = await readAll(file);
    expect(layout).toMatchObject({ delimiter: ';', headerLine: 3, decimal: 'comma' });
    expect(summary(records)).toEqual([
      [4, 'T-1', 'valid', 1250],
      [5, 'T-2', 'valid', 123456],
    ]);
  });

  it('holds the rows behind an amount that reads two ways, in order, until a later amount decides', async () => {
    const file = path.join(tmp, 'late-decision.csv');
    const lines = ['invoice_number,amount', 'L-1,"1,234"', 'L-2,80', 'L-3,1.500', 'L-4,"12,50"', 'L-5,3.000'];
    writeFileSync(file, lines.join('\n'));
    const { layout, records } = await readAll(file);
    expect(layout.decimal).toBe('comma');
    expect(summary(records)).toEqual([
      [2, 'L-1', 'invalid', 'AMOUNT_TOO_PRECISE'],
      [3, 'L-2', 'valid', 8000],
      [4, 'L-3', 'valid', 150000],
      [5, 'L-4', 'valid', 1250],
      [6, 'L-5', 'valid', 300000],
    ]);
    expect(records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a workbook: the same file read twice gives the same records (the shared strings are read once)', async () => {
    const input = await openInvoiceFile(fixture('workbooks/invoices.xlsx'));
    const first: IntakeRecord[] = [];
    for await (const record of input.records) first.push(record);
    const sha = input.sha256();
    const second: IntakeRecord[] = [];
    for await (const record of input.records) second.push(record);
    expect(second).toEqual(first);
    expect(input.sha256()).toBe(sha);
    expect(sha).toBe(createHash('sha256').update(readFileSync(fixture('workbooks/invoices.xlsx'))).digest('hex'));
  });
});

describe('a second read of a file with the first read\'s invoice numbers (as submit does)', () => {
  const statuses = async (options: Parameters<typeof openInvoiceFile>[1]) => {
    const file = await openInvoiceFile(fixture('bad-rows.csv'), options);
    const out: [number, string, string, string | undefined][] = [];
    for await (const r of file.records) out.push([r.line, r.invoiceNumber, r.status, r.status === 'valid' ? undefined : r.message]);
    return out;
  };

  it('finds the same duplicates, naming the same earlier lines, and never calls a first row a duplicate of itself', async () => {
    const fresh = await statuses({});
    const firstLines = new Map<string, number>();
    const first = await statuses({ firstLines });
    const sizeAfterFirst = firstLines.size;
    const second = await statuses({ firstLines });
    expect(first).toEqual(fresh);
    expect(second).toEqual(fresh);
    // The second read only looked the numbers up.
    expect(firstLines.size).toBe(sizeAfterFirst);
    const duplicates = second.filter(([, , status]) => status === 'duplicate');
    expect(duplicates.length).toBeGreaterThan(0);
    for (const [line, invoice, , message] of duplicates) {
      const earlier = firstLines.get(invoiceKey(invoice))!;
      expect(earlier).toBeLessThan(line);
      expect(message).toContain(`line ${earlier}`);
    }
  });
});
