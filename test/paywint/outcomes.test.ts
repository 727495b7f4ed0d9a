import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/paywint/outcomes.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['2', 2_000],
    [' 0 ', 0],
    ['1.5', 1_500],
    ['Sun, 01 Jun 2025 12:00:30 GMT', 30_000],
    ['Sun, 01 Jun 2025 11:00:00 GMT', 0],
    ['soon', undefined],
    [['3', '4'], 3_000],
  ])('reads %j as %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
