/**
 * The fast path for plain amounts (`1234.56`) must agree with parseAmount on
 * everything it accepts, and leave everything else to parseAmount.
 */
import { describe, expect, it } from 'vitest';
import { parseAmount, plainAmountCents } from '../../src/core/money.js';

/** About 9,900 of the 20,000 generated texts take the fast path (seed 42); far fewer means the generator broke. */
const COMPARED_AT_LEAST = 5_000;

describe('plainAmountCents', () => {
  it.each([
    ['1234.56', 123456],
    ['75.5', 7550],
    ['80', 8000],
    ['0.01', 1],
    ['007.50', 750],
    ['9999999999.99', 999_999_999_999],
  ])('%j → %d cents, as parseAmount says', (text, cents) => {
    expect(plainAmountCents(text)).toBe(cents);
    expect(parseAmount(text)).toEqual({ ok: true, cents });
  });

  it.each(['', '0', '0.00', '12.345', '10000000000', '99999999999.00', '1,234.56', '$12', ' 12', '12 ', '12.', '.5', '-1', '+1', '1e3', '12,50', '١٢'])(
    'leaves %j to parseAmount',
    (text) => {
      expect(plainAmountCents(text)).toBe(-1);
    },
  );

  it('agrees with parseAmount on 20,000 generated amounts', () => {
    const alphabet = '0123456789.,$- ';
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    let compared = 0;
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(random() * 14);
      let text = '';
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * (i < 11 ? 11 : alphabet.length))];
      const fast = plainAmountCents(text);
      if (fast === -1) continue;
      expect(parseAmount(text), text).toEqual({ ok: true, cents: fast });
      compared += 1;
    }
    // The generator must reach the fast path often, or the loop above compares nothing.
    expect(compared).toBeGreaterThan(COMPARED_AT_LEAST);
  });
});
