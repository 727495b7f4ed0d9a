/** The webhook signature, checked the way the README tells a receiver to check it. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureHeader, verifySignature } from '../../src/notify/signature.js';
import { notifyBackoffMs } from '../../src/pipeline/notify-job.js';

const SECRET = 'whsec_unit-test-secret-123';

describe('Paylinks-Signature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    const body = '{"id":"b-f1","event":"batch.finished"}';
    const expected = createHmac('sha256', SECRET).update(`1795570000.${body}`).digest('hex');
    expect(signatureHeader(SECRET, body, 1795570000)).toBe(`t=1795570000,v1=${expected}`);
  });

  it('verifies the body it signed, and nothing else', () => {
    const body = '{"id":"b-f1"}';
    const header = signatureHeader(SECRET, body);
    expect(verifySignature(SECRET, body, header)).toBe(true);
    expect(verifySignature(SECRET, `${body} `, header)).toBe(false);
    expect(verifySignature('another-secret-0000', body, header)).toBe(false);
    expect(verifySignature(SECRET, body, 'v1=abc')).toBe(false);
  });

  it('refuses an old signature (a replay)', () => {
    const header = signatureHeader(SECRET, '{}', 1_000_000);
    expect(verifySignature(SECRET, '{}', header, { nowSeconds: 1_000_299 })).toBe(true);
    expect(verifySignature(SECRET, '{}', header, { nowSeconds: 1_000_301 })).toBe(false);
  });
});

describe('notification backoff', () => {
  it('starts at about 1 s, doubles, and stays at most 5 minutes apart', () => {
    expect([1, 2, 3, 4].map(notifyBackoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(notifyBackoffMs(9)).toBe(256_000);
    expect(notifyBackoffMs(10)).toBe(300_000);
    expect(notifyBackoffMs(40)).toBe(300_000);
  });
});
