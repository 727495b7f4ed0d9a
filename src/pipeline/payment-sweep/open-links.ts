/**
 * The open links the sweep reads with `GET`, oldest first: links not paid,
 * expired or rejected (unpaid, opened, processing, failed), made before a
 * cutoff, optionally of one batch.
 *
 * How "oldest first" scales (measured at 1,000,000 links: docs/payments.md):
 * the ledger is a hash by invoice number with no order by time, and an index
 * by time would cost more than the status itself (a sorted set is about 100 B
 * per member against the 40 B goal). So the links are taken in rounds: one
 * HSCAN of the ledger keeps the `roundSize` oldest open links after the
 * previous round's last (a bounded max-heap on (created at, invoice number)),
 * sorted. Memory is bounded by the round size whatever the ledger's size; the
 * next round's scan runs while this round's links are read, so at the rate
 * limit the scans cost no time unless one scan is slower than a round's reads.
 * A link's status is read (one pipelined HGET, its state from the record's
 * first letters) only when it would enter the heap; entries are decoded only
 * once chosen.
 */
import { FIELD_SEPARATOR, splitFields, packBatchId, unpackInt } from '../compact.js';
import { decodeLedgerEntry, type LedgerEntry } from '../ledger.js';
import type { PaymentState } from '../payment-status/model.js';
import type { PaymentStatusStore } from '../payment-status/store.js';
import { slotOf, slotOfPacked, stateOfRecord } from '../payment-status/encoding.js';

/** States the sweep reads again: the payer may still pay. */
export const OPEN_STATES: ReadonlySet<PaymentState> = new Set(['unpaid', 'opened', 'processing', 'failed']);

/** An open link, as a round lists it. */
export interface OpenLink {
  invoiceNumber: string;
  createdMs: number;
  entry: LedgerEntry;
}

/** A position in the order (created at, then invoice number). */
export interface OpenLinkKey {
  createdMs: number;
  invoiceNumber: string;
}

export interface OpenLinkQuery {
  /** Only links made at or before this instant, ms. */
  cutoffMs: number;
  /** Only links after this one in the order. Default: from the oldest. */
  after?: OpenLinkKey;
  /** Only this batch's links. */
  batchId?: string;
  /** Links per round at most. */
  limit: number;
  /** Entries asked for per HSCAN call. Default 1000. */
  scanCount?: number;
}

interface Candidate extends OpenLinkKey {
  raw: string;
}

function before(a: OpenLinkKey, b: OpenLinkKey): boolean {
  return a.createdMs < b.createdMs || (a.createdMs === b.createdMs && a.invoiceNumber < b.invoiceNumber);
}

/** A max-heap of candidates: the newest on top, evicted when an older one comes. */
class NewestOnTop {
  readonly items: Candidate[] = [];
  constructor(readonly limit: number) {}

  get full(): boolean {
    return this.items.length >= this.limit;
  }

  get top(): Candidate | undefined {
    return this.items[0];
  }

  push(c: Candidate): void {
    const h = this.items;
    if (h.length >= this.limit) {
      if (!before(c, h[0]!)) return;
      h[0] = c;
      this.down(0);
      return;
    }
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[parent]!, h[i]!)) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let largest = i;
      if (l < h.length && before(h[largest]!, h[l]!)) largest = l;
      if (r < h.length && before(h[largest]!, h[r]!)) largest = r;
      if (largest === i) return;
      [h[largest], h[i]] = [h[i]!, h[largest]!];
      i = largest;
    }
  }
}

/** The state a payment index record holds for its invoice, read from its first letters only (encoding.ts); unpaid when nothing was heard, or when the record is another invoice's (a 62-bit collision: the exact status is read again before the GET). */
function stateInRecord(record: string | null, invoiceNumber: string): PaymentState {
  if (record === null) return 'unpaid';
  const held = stateOfRecord(record);
  return held.invoiceNumber === invoiceNumber ? held.state : 'unpaid';
}

/** The packed payment id of a stored ledger entry (its first field). */
function packedIdOf(raw: string): string {
  if (raw.startsWith('{') || raw.startsWith('[')) return slotOf(decodeLedgerEntry(raw).paymentId).packed;
  const end = raw.indexOf(FIELD_SEPARATOR);
  return end < 0 ? raw : raw.slice(0, end);
}

/** Where a stored ledger entry's creation time and batch are (see encodeLedgerEntry): read without decoding the rest. */
function keyOf(invoiceNumber: string, raw: string, packedBatch: string | undefined): OpenLinkKey | null {
  if (raw.startsWith('{') || raw.startsWith('[')) {
    const entry = decodeLedgerEntry(raw);
    if (packedBatch !== undefined && packBatchId(entry.batchId) !== packedBatch) return null;
    return { createdMs: Date.parse(entry.createdAt), invoiceNumber };
  }
  const f = splitFields(raw);
  if (packedBatch !== undefined && f[4] !== packedBatch) return null;
  return { createdMs: unpackInt(f[3]!), invoiceNumber };
}

/**
 * One round: the `limit` oldest open links after `after` (see the module's
 * notes), oldest first, with their statuses as they were read.
 */
export async function oldestOpenLinks(store: PaymentStatusStore, query: OpenLinkQuery): Promise<OpenLink[]> {
  const heap = new NewestOnTop(query.limit);
  const packedBatch = query.batchId === undefined ? undefined : packBatchId(query.batchId);
  let cursor = '0';
  do {
    const [next, flat] = await store.redis.hscan(store.ledgerKey, cursor, 'COUNT', query.scanCount ?? 1000);
    cursor = next;
    const found: Candidate[] = [];
    const pipeline = store.redis.pipeline();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = keyOf(flat[i]!, flat[i + 1]!, packedBatch);
      if (key === null || key.createdMs > query.cutoffMs) continue;
      if (query.after && !before(query.after, key)) continue;
      const top = heap.top;
      if (heap.full && top && !before(key, top)) continue;
      const slot = slotOfPacked(packedIdOf(flat[i + 1]!));
      pipeline.hget(store.bucketKey(slot), slot.field);
      found.push({ ...key, raw: flat[i + 1]! });
    }
    if (found.length === 0) continue;
    const records = (await pipeline.exec()) ?? [];
    found.forEach((c, i) => {
      const [error, record] = records[i] ?? [null, null];
      if (error) throw error;
      if (OPEN_STATES.has(stateInRecord(record as string | null, c.invoiceNumber))) heap.push(c);
    });
  } while (cursor !== '0');
  const sorted = heap.items.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  // HSCAN may return an entry twice (the hash grew during the scan): once each.
  const unique = sorted.filter((c, i) => i === 0 || c.invoiceNumber !== sorted[i - 1]!.invoiceNumber || c.createdMs !== sorted[i - 1]!.createdMs);
  return unique.map((c) => ({ invoiceNumber: c.invoiceNumber, createdMs: c.createdMs, entry: decodeLedgerEntry(c.raw) }));
}
