import { describe, expect, it } from 'vitest';
import { invoiceKey, sameInvoice } from '../../src/core/invoice-key.js';

describe('invoiceKey: how invoice numbers compare', () => {
  it('ignores case and surrounding white space', () => {
    expect(invoiceKey('INV-7')).toBe(invoiceKey(' INV-7 '));
    expect(invoiceKey('INV-7')).toBe(invoiceKey('inv-7'));
    expect(invoiceKey('\tInV-7\u00a0')).toBe(invoiceKey('INV-7'));
    expect(sameInvoice('abc-001', 'ABC-001')).toBe(true);
  });

  it('keeps apart what may differ in a numbering scheme: inner spaces, punctuation, other characters', () => {
    expect(sameInvoice('INV 7', 'INV7')).toBe(false);
    expect(sameInvoice('INV-7', 'INV_7')).toBe(false);
    expect(sameInvoice('INV-7', 'INV-07')).toBe(false);
    expect(sameInvoice('ＩＮＶ-7', 'INV-7')).toBe(false); // full-width letters: not folded (no NFKC)
  });

  it('joins the composed and decomposed forms of the same letter (NFC), in any case', () => {
    const composed = 'FACTURE-\u00e9'; // é as one code point
    const decomposed = 'facture-e\u0301'; // e + combining acute
    expect(sameInvoice(composed, decomposed)).toBe(true);
  });

  it("uses Unicode's locale-independent case mapping", () => {
    expect(invoiceKey('straße-1')).toBe('STRASSE-1');
    expect(sameInvoice('ınv-1', 'INV-1')).toBe(true); // Turkish dotless i upper-cases to I
    expect(sameInvoice('σ-1', 'Σ-1')).toBe(true);
  });

  it('is a key only: the same key for every spelling, idempotent', () => {
    for (const spelling of ['inv-7', ' INV-7', 'Inv-7 ']) expect(invoiceKey(invoiceKey(spelling))).toBe(invoiceKey(spelling));
  });
});
