/** Header mapping, delimiter detection and the `--columns` / `--delimiter` flag parsers. */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { detectDelimiter, normaliseHeader, parseColumnsFlag, parseDelimiterFlag, resolveColumns } from '../../src/intake/columns.js';

describe('normaliseHeader', () => {
  it.each([
    ['Invoice #', 'invoice'],
    ['INVOICE_NUMBER', 'invoicenumber'],
    ['  Invoice No. ', 'invoiceno'],
    ['Amount Due', 'amountdue'],
    ['amount_due', 'amountdue'],
    ['Amount (USD)', 'amountusd'],
    ['Mémo', 'mémo'],
  ])('%j → %j', (header, expected) => {
    expect(normaliseHeader(header)).toBe(expected);
  });
});

describe('resolveColumns', () => {
  it('finds the optional contact columns (issue 19): e-mail address, name, due date', () => {
    expect(resolveColumns(['Invoice', 'Amount', 'E-Mail', 'Customer Name', 'Due Date'])).toEqual({ ok: true, invoice: 0, amount: 1, description: null, email: 2, name: 3, due: 4 });
    expect(resolveColumns(['invoice', 'amount', 'customer_email', 'customer'])).toEqual({ ok: true, invoice: 0, amount: 1, description: null, email: 2, name: 3 });
    expect(resolveColumns(['invoice', 'amount', 'Contact'], { email: 'contact' })).toEqual({ ok: true, invoice: 0, amount: 1, description: null, email: 2 });
  });

  it('finds the columns by their usual names, ignoring case, spaces and punctuation', () => {
    expect(resolveColumns(['Invoice #', 'Customer', 'Amount Due', 'Memo'])).toEqual({ ok: true, invoice: 0, amount: 2, description: 3, name: 1 });
    expect(resolveColumns(['INVOICE NO.', 'total due', 'Notes'])).toEqual({ ok: true, invoice: 0, amount: 1, description: 2 });
    expect(resolveColumns(['customer', 'invoice_number', 'amount_due'])).toEqual({ ok: true, invoice: 1, amount: 2, description: null, name: 0 });
    expect(resolveColumns(['Inv #', 'Balance Due'])).toEqual({ ok: true, invoice: 0, amount: 1, description: null });
  });

  it('takes "description" over "memo" over "notes" when several are present', () => {
    expect(resolveColumns(['invoice', 'amount', 'Notes', 'Description', 'Memo'])).toEqual({ ok: true, invoice: 0, amount: 1, description: 3 });
    expect(resolveColumns(['invoice', 'amount', 'Notes', 'Memo'])).toEqual({ ok: true, invoice: 0, amount: 1, description: 3 });
  });

  it('refuses to guess between two amount (or invoice) columns, and says how to choose', () => {
    const result = resolveColumns(['invoice_number', 'Amount', 'Total']);
    expect(result).toMatchObject({ ok: false, code: 'FILE_MALFORMED' });
    expect(result.ok ? '' : result.message).toBe(
      '"Amount" (column 2) and "Total" (column 3) could each be the amount column. Rename one of them, or name the one to use with --columns amount="<header>".',
    );
    expect(resolveColumns(['Invoice', 'Invoice Number', 'amount'])).toMatchObject({ ok: false, code: 'FILE_MALFORMED' });
  });

  it('names the headers found and the names looked for when a required column is missing', () => {
    const result = resolveColumns(['invoice_number', 'customer', 'price']);
    expect(result).toMatchObject({ ok: false, code: 'FILE_MISSING_COLUMN' });
    const message = result.ok ? '' : result.message;
    expect(message).toContain('no amount column');
    expect(message).toContain('"amount", "amount due", "total"');
    expect(message).toContain('The header line has 3 columns: "invoice_number", "customer", "price".');
    expect(message).toContain('--columns amount="<header>"');
  });

  it('hints at the delimiter when the header is one column', () => {
    const result = resolveColumns(['invoice_number;amount']);
    expect(result.ok ? '' : result.message).toContain('is the delimiter right?');
  });

  it('uses the columns named explicitly, matched the same way', () => {
    expect(resolveColumns(['Ref', 'Client', 'Gross', 'Details'], { invoice: 'ref', amount: 'GROSS', description: 'details' })).toEqual({
      ok: true,
      invoice: 0,
      amount: 2,
      description: 3,
      name: 1,
    });
    // Named columns win over the aliases; the others are still found by alias.
    expect(resolveColumns(['invoice', 'amount', 'total'], { amount: 'Total' })).toEqual({ ok: true, invoice: 0, amount: 2, description: null });
  });

  it('reports a named column that does not exist, by the name given', () => {
    const result = resolveColumns(['Ref', 'Gross'], { invoice: 'Ref', amount: 'Net Amount' });
    expect(result).toMatchObject({ ok: false, code: 'FILE_MISSING_COLUMN' });
    expect(result.ok ? '' : result.message).toContain('--columns names the amount column "Net Amount", but the header line has no column by that name.');
  });

  it('refuses one column for two roles', () => {
    expect(resolveColumns(['Ref', 'Gross'], { invoice: 'Ref', amount: 'ref' })).toMatchObject({ ok: false, code: 'FILE_MALFORMED' });
  });
});

describe('detectDelimiter', () => {
  it.each([
    ['invoice_number,customer,amount', ','],
    ['Invoice No;Client;Amount;Description', ';'],
    ['Invoice #\tCustomer\tAmount Due', '\t'],
    ['invoice|amount|description', '|'],
    ['"Amount, USD";"Notes, internal";Invoice', ';'],
    ['a,b;c', ','],
    ['invoice', ','],
  ])('%j → %j', (line, expected) => {
    expect(detectDelimiter(line)).toBe(expected);
  });
});

describe('parseDelimiterFlag', () => {
  it.each([
    [',', ','],
    [';', ';'],
    ['|', '|'],
    ['tab', '\t'],
    ['TAB', '\t'],
    ['\\t', '\t'],
    ['\t', '\t'],
    ['semicolon', ';'],
  ])('%j → %j', (value, expected) => {
    expect(parseDelimiterFlag(value)).toBe(expected);
  });

  it.each(['x', '::', '', 'tabs'])('rejects %j with a message listing the choices', (value) => {
    expect(() => parseDelimiterFlag(value)).toThrow(InvalidArgumentError);
    expect(() => parseDelimiterFlag(value)).toThrow('expected one of  ,  ;  |  tab');
  });
});

describe('parseColumnsFlag', () => {
  it('reads any of the three roles, in any order', () => {
    expect(parseColumnsFlag('invoice=Ref,amount=Gross,description=Details')).toEqual({ invoice: 'Ref', amount: 'Gross', description: 'Details' });
    expect(parseColumnsFlag(' amount = Amount Due , invoice=Invoice # ')).toEqual({ amount: 'Amount Due', invoice: 'Invoice #' });
    // Quotes that reached the value (nested shell quoting) are removed.
    expect(parseColumnsFlag('description="Notes"')).toEqual({ description: 'Notes' });
  });

  it.each([
    ['invoice', /expected role=<header>/],
    ['customer=Client', /unknown column "customer": expected invoice, amount, description, currency, email, name or due/],
    ['amount=A,amount=B', /amount is named twice/],
    ['amount=', /needs a header name/],
    ['amount=#', /needs a header name/],
    ['', /got nothing/],
  ])('rejects %j', (value, message) => {
    expect(() => parseColumnsFlag(value)).toThrow(InvalidArgumentError);
    expect(() => parseColumnsFlag(value)).toThrow(message);
  });
});
