/**
 * A batch's collection: its links' payment statuses counted and summed, the
 * collected share of the linked amount, and the aging of the links not paid
 * (days since the link was made). Read from the ledger (entries carry their
 * batch), so it is there as long as the ledger is, after the batch's rows
 * have expired.
 */
import { packBatchId, splitFields } from '../compact.js';
import { decodeLedgerEntry, writtenInvoiceNumber, type LedgerEntry } from '../ledger.js';
import { PAYMENT_STATES, type PaymentState } from './model.js';
import type { InvoicePayment, PaymentStatusStore } from './store.js';
import type { PaymentExceptions } from './exceptions.js';

export const AGING_BUCKETS = ['0-7', '8-30', '31-60', '61-90', '>90'] as const;
export type AgingBucket = (typeof AGING_BUCKETS)[number];

export interface CountAndAmount {
  count: number;
  /** The invoices' amounts (what the links ask for), cents. */
  amountCents: number;
}

export interface BatchCollection {
  batchId: string;
  /** Links of the batch in the ledger. */
  links: number;
  linkedCents: number;
  byState: Record<PaymentState, CountAndAmount>;
  /** What Paywint says was paid on the batch's links, cents. */
  paidCents: number;
  /** paidCents ÷ linkedCents × 100, two decimals (0 with no links). */
  collectedPercent: number;
  /** Links not paid, by days since the link was made. */
  aging: Record<AgingBucket, CountAndAmount>;
  exceptions: number;
  /** Every link is paid (and there is at least one). */
  collected: boolean;
}

/** The bucket of a link made `ageMs` ago. */
export function agingBucketOf(ageMs: number): AgingBucket {
  const days = Math.floor(Math.max(0, ageMs) / 86_400_000);
  if (days <= 7) return '0-7';
  if (days <= 30) return '8-30';
  if (days <= 60) return '31-60';
  if (days <= 90) return '61-90';
  return '>90';
}

const zero = (): CountAndAmount => ({ count: 0, amountCents: 0 });

/**
 * The batch's links with their statuses, a page at a time (one HSCAN of the
 * account's ledger, entries of other batches skipped without decoding them).
 */
export async function* scanBatchPayments(store: PaymentStatusStore, batchId: string, scanCount = 1000): AsyncGenerator<InvoicePayment[]> {
  const packed = packBatchId(batchId);
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, flat] = await store.redis.hscan(store.ledgerKey, cursor, 'COUNT', scanCount);
    cursor = next;
    const found: { invoiceNumber: string; entry: LedgerEntry }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const raw = flat[i + 1]!;
      const legacy = raw.startsWith('{') || raw.startsWith('[');
      if (!legacy && splitFields(raw)[4] !== packed) continue;
      const entry = decodeLedgerEntry(raw);
      if (entry.batchId !== batchId || seen.has(flat[i]!)) continue;
      seen.add(flat[i]!);
      found.push({ invoiceNumber: writtenInvoiceNumber(flat[i]!, entry), entry });
    }
    if (found.length > 0) yield await store.withStatuses(found);
  } while (cursor !== '0');
}

/** The batch's collection summary (see {@link BatchCollection}). */
export async function batchCollection(store: PaymentStatusStore, exceptions: PaymentExceptions, batchId: string, now = Date.now()): Promise<BatchCollection> {
  const byState = Object.fromEntries(PAYMENT_STATES.map((s) => [s, zero()])) as Record<PaymentState, CountAndAmount>;
  const aging = Object.fromEntries(AGING_BUCKETS.map((b) => [b, zero()])) as Record<AgingBucket, CountAndAmount>;
  let links = 0;
  let linkedCents = 0;
  let paidCents = 0;
  for await (const page of scanBatchPayments(store, batchId)) {
    for (const { entry, status } of page) {
      links += 1;
      linkedCents += entry.amountCents;
      byState[status.state].count += 1;
      byState[status.state].amountCents += entry.amountCents;
      if (status.state === 'paid') paidCents += status.amountPaidCents ?? entry.amountCents;
      else {
        const bucket = aging[agingBucketOf(now - Date.parse(entry.createdAt))];
        bucket.count += 1;
        bucket.amountCents += entry.amountCents;
      }
    }
  }
  return {
    batchId,
    links,
    linkedCents,
    byState,
    paidCents,
    collectedPercent: linkedCents === 0 ? 0 : Math.floor((paidCents * 10_000) / linkedCents) / 100,
    aging,
    exceptions: (await exceptions.list(batchId)).length,
    collected: links > 0 && byState.paid.count === links,
  };
}
