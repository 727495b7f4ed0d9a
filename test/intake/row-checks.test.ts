/**
 * checkRecord on its own: one stored row checked again, as retry does. The
 * row checks on real files are in invoice-file.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkRecord } from '../../src/intake/row-checks.js';

describe('checkRecord', () => {
  it('checkRecord can check one stored row again (as retry does)', () => {
    const layout = { headers: ['invoice_number', 'amount'], invoice: 0, amount: 1, description: null, delimiter: ',', encoding: 'utf-8' as const };
    expect(checkRecord({ line: 7, cells: ['A-1', '12.50'] }, 5, layout)).toEqual({
      index: 5,
      line: 7,
      cells: ['A-1', '12.50'],
      status: 'valid',
      invoiceNumber: 'A-1',
      amountCents: 1250,
      description: null,
    });
    expect(checkRecord({ line: 9, cells: ['A-1', '1,234'] }, 6, layout)).toMatchObject({ status: 'invalid', code: 'AMBIGUOUS_AMOUNT' });
    expect(checkRecord({ line: 9, cells: ['A-1', '1,234'] }, 6, { ...layout, decimal: 'comma' })).toMatchObject({ status: 'invalid', code: 'AMOUNT_TOO_PRECISE' });
    expect(checkRecord({ line: 9, cells: ['A-1', '1,234'] }, 6, { ...layout, decimal: 'point' })).toMatchObject({ status: 'valid', amountCents: 123400 });
  });
});
