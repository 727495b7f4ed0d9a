/** The pieces of serve's sign-in, with inline data: token checks, the failed sign-in window, loopback hosts. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, resolveTokens, SignInLimiter, tokenMatches } from '../../src/serve/auth.js';
import { safeFileName } from '../../src/serve/upload.js';

const digest = (t: string) => createHash('sha256').update(t).digest();

describe('serve sign-in', () => {
  it('accepts any configured token and nothing else', () => {
    const tokens = ['a'.repeat(32), 'b'.repeat(40)].map(digest);
    expect(tokenMatches('a'.repeat(32), tokens)).toBe(true);
    expect(tokenMatches('b'.repeat(40), tokens)).toBe(true);
    expect(tokenMatches('a'.repeat(31), tokens)).toBe(false);
    expect(tokenMatches('', tokens)).toBe(false);
  });

  it('blocks an address after 10 failures within the window, only that address, until the window ends', () => {
    const limiter = new SignInLimiter({ maxFailures: 10, windowMs: 60_000 });
    for (let i = 0; i < 9; i += 1) limiter.recordFailure('10.0.0.1', 1_000);
    expect(limiter.blockedForSeconds('10.0.0.1', 1_000)).toBe(0);
    limiter.recordFailure('10.0.0.1', 1_000);
    expect(limiter.blockedForSeconds('10.0.0.1', 1_000)).toBe(60);
    expect(limiter.blockedForSeconds('10.0.0.2', 1_000)).toBe(0);
    expect(limiter.blockedForSeconds('10.0.0.1', 60_999)).toBe(1);
    expect(limiter.blockedForSeconds('10.0.0.1', 61_000)).toBe(0);
  });

  it('makes a token only on a loopback host; refuses any other host without tokens, naming the variable', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'example.com'].some(isLoopbackHost)).toBe(false);
    const made = resolveTokens([], '127.0.0.1');
    expect(made.generated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(made.tokens).toEqual([made.generated]);
    expect(resolveTokens(['t'.repeat(32)], '0.0.0.0')).toEqual({ tokens: ['t'.repeat(32)], generated: undefined });
    expect(() => resolveTokens([], '0.0.0.0')).toThrow(/^PAYLINKS_API_TOKENS: /);
  });

  it('names an uploaded file safely', () => {
    expect(safeFileName('march.csv')).toBe('march.csv');
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('C:\\Users\\ann\\März 2026.csv')).toBe('März 2026.csv');
    expect(safeFileName('a<b>|c.csv')).toBe('a_b__c.csv');
    expect(safeFileName(undefined)).toBe('upload.csv');
    expect(safeFileName('.hidden')).toBe('upload.csv');
  });
});
