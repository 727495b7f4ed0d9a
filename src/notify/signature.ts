/**
 * The webhook signature: `Paylinks-Signature: t=<unix seconds>,v1=<hex>`,
 * where the hex is HMAC-SHA256 of `<t>.<raw body>` keyed with
 * `PAYLINKS_NOTIFY_SECRET`. The time inside the signed text lets a receiver
 * refuse an old message replayed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The `Paylinks-Signature` header value for `body` sent at `unixSeconds`. */
export function signatureHeader(secret: string, body: string, unixSeconds = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export interface VerifyOptions {
  /** Refuse a signature older (or newer) than this, seconds. Default 300. */
  toleranceSeconds?: number;
  nowSeconds?: number;
}

/** What a receiver does: true when `header` signs `body` with `secret`, recently. */
export function verifySignature(secret: string, body: string, header: string, options: VerifyOptions = {}): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== 'string') return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
