/** parseAmount and formatCents at their edges: what a finance export may hold. */
import { describe, expect, it } from 'vitest';
import { centsToJsonNumber, formatCents, MAX_AMOUNT_CENTS, parseAmount } from '../../src/core/money.js';

describe('parseAmount', () => {
  it.each([
    ['150.75', 15075],
    ['80', 8000],
    ['75.5', 7550],
    ['0.01', 1],
    [' 12 ', 1200],
    ['007.50', 750],
    ['$1,234.56', 123456],
    ['1,000,000.00', 100_000_000],
    ['1,234', 123400],
    ['USD 12.50', 1250],
    ['12.50 USD', 1250],
    ['US$ 3', 300],
    ['+5', 500],
    ['1 234.56', 123456],
    ['1\u00a0234,56', 123456],
    ['1234,5', 123450],
    ['1.234,56', 123456],
    ['9999999999.99', MAX_AMOUNT_CENTS],
    // Issue 20, item 3: amounts that read only one way.
    ['10.50000', 1050],
    ['.5', 50],
    ['5.', 500],
    ["1'234.50", 123450],
    ['1’234.50', 123450],
    ["1'234'567.00", 123456700],
  ])('%j → %d cents', (text, cents) => {
    expect(parseAmount(text)).toEqual({ ok: true, cents });
  });

  it.each([
    ['', 'MISSING_AMOUNT', 'the amount is empty'],
    ['   ', 'MISSING_AMOUNT', 'the amount is empty'],
    ['abc', 'INVALID_AMOUNT', '"abc" is not an amount'],
    ['1e3', 'INVALID_AMOUNT', '"1e3" is not an amount'],
    ['12..5', 'INVALID_AMOUNT', '"12..5" is not an amount'],
    ['1,2345', 'INVALID_AMOUNT', '"1,2345" is not an amount'],
    ['12 EUR', 'INVALID_AMOUNT', '"12 EUR" is not in US dollars (it is in EUR); Paywint charges USD'],
    ['€ 12,50', 'INVALID_AMOUNT', '"€ 12,50" is not in US dollars (it is in EUR (€)); Paywint charges USD'],
    ['£7.00', 'INVALID_AMOUNT', '"£7.00" is not in US dollars (it is in GBP (£)); Paywint charges USD'],
    ['0', 'AMOUNT_NOT_POSITIVE', '"0" is zero'],
    ['0.00', 'AMOUNT_NOT_POSITIVE', '"0.00" is zero'],
    ['-0', 'AMOUNT_NOT_POSITIVE', '"-0" is zero'],
    ['-25.00', 'AMOUNT_NOT_POSITIVE', '"-25.00" is negative (a minus sign: a credit note?); Paywint links collect positive amounts'],
    ['(12.00)', 'AMOUNT_NOT_POSITIVE', '"(12.00)" is negative (in parentheses, as accounting writes a credit); Paywint links collect positive amounts'],
    ['$-5', 'AMOUNT_NOT_POSITIVE', '"$-5" is negative (a minus sign: a credit note?); Paywint links collect positive amounts'],
    // Issue 20, item 3: why an amount is refused, where the reason is known.
    ['25.00-', 'AMOUNT_NOT_POSITIVE', '"25.00-" is negative (a trailing minus, as accounting exports write a credit note); Paywint links collect positive amounts'],
    ['\u221225.00', 'AMOUNT_NOT_POSITIVE', '"\u221225.00" is negative (a minus sign: a credit note?); Paywint links collect positive amounts'],
    ['25.00 CR', 'AMOUNT_NOT_POSITIVE', '"25.00 CR" is a credit (CR), not an amount owed; Paywint links collect positive amounts'],
    ['15%', 'INVALID_AMOUNT', '"15%" is not an amount: it is a percentage'],
    ['2025-04-15', 'INVALID_AMOUNT', '"2025-04-15" is not an amount: it looks like a date'],
    ['15/04/2025', 'INVALID_AMOUNT', '"15/04/2025" is not an amount: it looks like a date'],
    ['15.04.2025', 'INVALID_AMOUNT', '"15.04.2025" is not an amount: it looks like a date'],
    ['=SUM(B2:B5)', 'INVALID_AMOUNT', '"=SUM(B2:B5)" is a formula saved as text, not its result: save the sheet with the formula\'s values (or type the amount)'],
    ['CHF 12.50', 'INVALID_AMOUNT', '"CHF 12.50" is not in US dollars (it is in CHF); Paywint charges USD'],
    ['C$ 12.50', 'INVALID_AMOUNT', '"C$ 12.50" is not in US dollars (it is in CAD (C$)); Paywint charges USD'],
    ['12.50 kr', 'INVALID_AMOUNT', '"12.50 kr" is not in US dollars (it is in SEK, NOK or DKK (kr)); Paywint charges USD'],
    ['1' + '0'.repeat(2_000_000), 'INVALID_AMOUNT', '"1000000000000000000000000000000000000000"… (2,000,001 characters) is not an amount'],
    ["12'34.50", 'INVALID_AMOUNT', '"12\'34.50" is not an amount'],
    ['1.500', 'AMOUNT_TOO_PRECISE', '"1.500" has more than two decimals'],
    ['12.345', 'AMOUNT_TOO_PRECISE', '"12.345" has more than two decimals'],
    ['0.001', 'AMOUNT_TOO_PRECISE', '"0.001" has more than two decimals'],
    ['12,345.678', 'AMOUNT_TOO_PRECISE', '"12,345.678" has more than two decimals'],
    ['10000000000', 'AMOUNT_TOO_LARGE', '"10000000000" is above 9999999999.99'],
  ])('%j → %s', (text, code, message) => {
    expect(parseAmount(text)).toEqual({ ok: false, code, message });
  });
});

describe('formatCents and centsToJsonNumber', () => {
  it.each([
    [0, '0.00', '0'],
    [1, '0.01', '0.01'],
    [10, '0.10', '0.1'],
    [15075, '150.75', '150.75'],
    [1500, '15.00', '15'],
    [MAX_AMOUNT_CENTS, '9999999999.99', '9999999999.99'],
  ])('%d → %j and %j', (cents, decimal, json) => {
    expect(formatCents(cents)).toBe(decimal);
    expect(centsToJsonNumber(cents)).toBe(json);
  });

  it('refuses a fraction of a cent', () => {
    expect(() => formatCents(1.5)).toThrow(RangeError);
  });
});
