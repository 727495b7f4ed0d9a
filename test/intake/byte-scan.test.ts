/** Line breaks counted in raw bytes, also across chunk boundaries. */
import { describe, expect, it } from 'vitest';
import { countLineBreaks } from '../../src/intake/byte-scan.js';

describe('countLineBreaks', () => {
  it('counts LF, CR LF and lone CR once each', () => {
    const buf = Buffer.from('a\nb\r\nc\rd');
    expect(countLineBreaks(buf, 0, buf.length)).toBe(3);
  });

  it('does not count the LF of a CR LF whose CR ended the previous chunk', () => {
    const first = Buffer.from('a\r');
    const second = Buffer.from('\nb\n');
    expect(countLineBreaks(first, 0, first.length) + countLineBreaks(second, 0, second.length, true)).toBe(2);
  });
});
