/**
 * Payment exceptions: what a person must look at, kept per account until
 * someone clears them, listed by the read API and notified once each
 * (`payment.exception`).
 *
 * Kinds:
 * - `double-payment` (a): an invoice paid on two links (its own, and a stray
 *   one made for it, e.g. by a request whose outcome was unknown): refund one.
 * - `amount-mismatch` (b): paid, but not the invoice's amount.
 * - `stray` (c): a payment on a payment id paylinks has no record of, with the
 *   invoices it most likely belongs to (same amount and description).
 * - `contradiction` (d): a confirmed status contradicting an earlier confirmed
 *   one (paid, then not); `paid-after-expiry` (d): paid after it expired or
 *   was rejected.
 * - `event-contradicted` (e): a webhook event GET did not bear out (forged,
 *   replayed or mistaken); one per payment id and claimed state.
 * - `unknown-status`: Paywint said a status we do not know (never counted paid).
 *
 * An exception's id is its kind and payment id (and for `event-contradicted`
 * the claimed state): found again by the next sweep, it is not added twice.
 */
import { LuaScript, type RedisClient } from '../../core/lua.js';
import type { Keys } from '../keys.js';

export const EXCEPTION_KINDS = ['double-payment', 'amount-mismatch', 'stray', 'contradiction', 'paid-after-expiry', 'event-contradicted', 'unknown-status'] as const;
export type ExceptionKind = (typeof EXCEPTION_KINDS)[number];

export interface PaymentException {
  /** `kind:paymentId[:detail]`: stable. */
  id: string;
  kind: ExceptionKind;
  paymentId: string;
  /** The invoice the payment belongs to; null for a stray. */
  invoiceNumber: string | null;
  /** The batch of that invoice's link (or of the likeliest invoice of a stray). */
  batchId: string | null;
  /** For a stray: invoices with the same amount and description (at most 5). */
  likelyInvoices?: string[];
  /** Paywint's amount, when it was read. */
  amountCents?: number | null;
  /** For a person: what was seen. */
  detail: string;
  /** When it was first found (ISO 8601). */
  at: string;
}

// KEYS: the exceptions hash, the pending list. ARGV: id, JSON. Keeps a new exception and queues it for notification.
const ADD_EXCEPTION = new LuaScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
`);

export type NewException = Omit<PaymentException, 'id' | 'at'> & { idSuffix?: string };

export class PaymentExceptions {
  readonly key: string;
  /** List: ids of exceptions not yet handed to the notifier. */
  readonly pendingKey: string;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    account: string,
  ) {
    this.key = keys.paymentExceptions(account);
    this.pendingKey = `${this.key}:pending`;
  }

  /** Keeps an exception; true when it is new (then it is also queued for notification). */
  async add(exception: NewException, now = new Date()): Promise<boolean> {
    const { idSuffix, ...rest } = exception;
    const id = [exception.kind, exception.paymentId, ...(idSuffix ? [idSuffix] : [])].join(':');
    const stored: PaymentException = { id, ...rest, at: now.toISOString() };
    // In one step: a crash can never keep an exception without queueing its notification.
    return Number(await ADD_EXCEPTION.run(this.redis, [this.key, this.pendingKey], [id, JSON.stringify(stored)])) === 1;
  }

  /** Every exception, or those of one batch, oldest first. */
  async list(batchId?: string): Promise<PaymentException[]> {
    const all: PaymentException[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.key, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) all.push(JSON.parse(flat[i]!) as PaymentException);
    } while (cursor !== '0');
    const seen = new Set<string>();
    return all
      .filter((e) => (batchId === undefined || e.batchId === batchId) && !seen.has(e.id) && seen.add(e.id))
      .sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<PaymentException | null> {
    const raw = await this.redis.hget(this.key, id);
    return raw === null ? null : (JSON.parse(raw) as PaymentException);
  }

  /** Up to `count` exceptions waiting to be notified, oldest first; each stays waiting until {@link settle}d. */
  async pending(count = 50): Promise<PaymentException[]> {
    const ids = await this.redis.lrange(this.pendingKey, 0, count - 1);
    const out: PaymentException[] = [];
    for (const id of ids) {
      const e = await this.get(id);
      if (e) out.push(e);
      else await this.settle(id);
    }
    return out;
  }

  /** The exception's notification is queued (its job id is derived from the exception's id: queueing twice adds one). */
  async settle(id: string): Promise<void> {
    await this.redis.lrem(this.pendingKey, 1, id);
  }
}
