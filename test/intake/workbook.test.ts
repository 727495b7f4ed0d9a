/**
 * The workbook reader's pieces on their own: exact decimals from doubles,
 * number formats, date serials, and the money helpers the workbook rules use.
 * The rules on real files are in test/cli/validate-workbooks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { numberToDecimal, readAmount, roundDecimal } from '../../src/core/money.js';
import { columnName, describeFormat, serialToIso } from '../../src/intake/workbook.js';

describe('numberToDecimal: the shortest decimal that round-trips, never in exponent form', () => {
  it.each([
    [89.99, '89.99'],
    [Number('89.989999999999995'), '89.99'], // as Excel writes 89.99 in the XML
    [0.1 + 0.2, '0.30000000000000004'],
    [123, '123'],
    [1.23e2, '123'],
    [12345678901, '12345678901'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [-12.5, '-12.5'],
    [19.999, '19.999'],
  ])('%d → %s', (value, text) => {
    expect(numberToDecimal(value)).toBe(text);
    expect(Number(numberToDecimal(value))).toBe(value);
  });
});

describe('describeFormat: what a number format shows', () => {
  it.each([
    ['General', 0, -1],
    ['0.00', 0, 2],
    ['#,##0', 0, 0],
    ['[$$-409]#,##0.00', 0, 2],
    ['"$"#,##0.00;[Red]\\-"$"#,##0.00', 0, 2],
    ['0.00E+00', 0, -1],
    ['0.000%', 0, 3],
    ['mm/dd/yyyy', 1, 0],
    ['yyyy-mm-dd hh:mm', 2, 0],
    ['[h]:mm:ss', 2, 0],
  ] as const)('%s: date %d, decimals %d', (code, date, decimals) => {
    expect(describeFormat(code)).toEqual({ date, decimals });
  });
});

describe('serialToIso: date serials as ISO dates', () => {
  it('reads the 1900 and 1904 date systems, with a time only when there is one', () => {
    expect(serialToIso(45762, false, false)).toBe('2025-04-15');
    expect(serialToIso(45762.5729166667, false, false)).toBe('2025-04-15T13:45:00');
    expect(serialToIso(45762, false, true)).toBe('2025-04-15T00:00:00');
    expect(serialToIso(44300, true, false)).toBe('2025-04-15');
    expect(serialToIso(1, false, false)).toBe('1900-01-01');
  });
});

describe('columnName', () => {
  it.each([
    [0, 'A'],
    [25, 'Z'],
    [26, 'AA'],
    [701, 'ZZ'],
    [702, 'AAA'],
  ])('%d → %s', (index, name) => {
    expect(columnName(index)).toBe(name);
  });
});

describe('roundDecimal: what a sheet shows, for messages', () => {
  it.each([
    ['19.999', 2, '20.00'],
    ['0.30000000000000004', 2, '0.30'],
    ['1.005', 2, '1.01'],
    ['99.995', 2, '100.00'],
    ['-2.5', 0, '-3'],
    ['7', 2, '7.00'],
  ] as const)('%s to %d → %s', (decimal, places, shown) => {
    expect(roundDecimal(decimal, places)).toBe(shown);
  });
});

describe('readAmount: an amount with the file decimal mark', () => {
  it('says which mark an amount shows, and leaves the two-way ones to the file', () => {
    expect(readAmount('12,50', undefined)).toEqual({ ok: true, cents: 1250, mark: 'comma' });
    expect(readAmount('1.234,56', undefined)).toEqual({ ok: true, cents: 123456, mark: 'comma' });
    expect(readAmount('$1,234.56', undefined)).toEqual({ ok: true, cents: 123456, mark: 'point' });
    expect(readAmount('1.234.567', undefined)).toEqual({ ok: true, cents: 123456700, mark: 'comma' });
    expect(readAmount('80', undefined)).toEqual({ ok: true, cents: 8000, mark: null });
    expect(readAmount('1,234', undefined)).toMatchObject({ ok: false, code: 'AMBIGUOUS_AMOUNT' });
    expect(readAmount('1.234', undefined)).toMatchObject({ ok: false, code: 'AMBIGUOUS_AMOUNT' });
    expect(readAmount('1,234', 'point')).toEqual({ ok: true, cents: 123400, mark: null });
    expect(readAmount('1.234', 'comma')).toEqual({ ok: true, cents: 123400, mark: null });
    expect(readAmount('1,234', 'comma')).toMatchObject({ ok: false, code: 'AMOUNT_TOO_PRECISE' });
    expect(readAmount('12,50', 'point', ' (--decimal point)')).toEqual({
      ok: false,
      code: 'INVALID_AMOUNT',
      message: '"12,50" is written with a decimal comma, but this file\'s amounts use a decimal point (--decimal point)',
    });
  });
});
