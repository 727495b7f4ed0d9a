/**
 * The payment status store: per Paywint account, a payment index (payment id
 * → invoice number, since webhooks and the received list carry only payment
 * ids and the ledger is keyed by invoice number) whose record for the
 * ledger's own payment id also holds the invoice's payment status. Same
 * lifetime as the ledger: no expiry.
 *
 * A link is indexed where its ledger entry is written, in the same script
 * (scripts/finish-rows.ts; `ledger import` right after), and the meta hash
 * counts the entries indexed (`indexed`). The index can always be rebuilt
 * from the ledger: {@link PaymentStatusStore.ensureIndexed} indexes the
 * ledger's entries when the ledger holds more than that count (entries
 * written by an older paylinks, or by hand; one HSCAN; entries already
 * indexed are left as they are, statuses included). A status is written by a
 * compare-and-set of its record, the merge done here (model.ts), so that two
 * confirmations at once never lose one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LuaScript, type RedisClient } from '../../core/lua.js';
import { splitFields } from '../compact.js';
import { FIELDS_LUA } from '../scripts/includes/fields.js';
import { INDEX_PAYMENT_LUA } from '../scripts/includes/index-payment.js';
import type { Keys } from '../keys.js';
import { decodeLedgerEntry, ledgerField, type LedgerEntry } from '../ledger.js';
import { decodeRecord, encodeRecord, slotOf, slotOfPacked, type IndexSlot } from './encoding.js';
import { mergeStatus, PAYMENT_STATES, retriedTo, unpaidStatus, type MergeResult, type Observation, type PaymentState, type PaymentStatus } from './model.js';

/** An invoice with a link, and its payment status. */
export interface InvoicePayment {
  invoiceNumber: string;
  /** The ledger's entry: the link paylinks made (or imported). */
  entry: LedgerEntry;
  status: PaymentStatus;
}

/** How long one indexing pass may hold its lock, ms (renewed per page). */
const INDEX_LOCK_MS = 30_000;

// KEYS: meta, then one bucket per record. ARGV: per record: field, packed id, stored invoice number (encodeRecord
// with no status). Writes each absent record (see INDEX_PAYMENT_LUA). Returns how many were written.
const INDEX_RECORDS = new LuaScript(`${FIELDS_LUA}${INDEX_PAYMENT_LUA}
local written = 0
for i = 1, #ARGV, 3 do
  written = written + indexPayment(KEYS[1], KEYS[(i - 1) / 3 + 2], ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
return written
`);

// KEYS: bucket (or the collision hash), meta. ARGV: field, the record as read ('' when there was none), the new
// record, the state before, the state after, the meta field counting the batch's paid links. Compare-and-set: returns 1 when written, else 0 (another write came
// first: read again and merge again). The meta hash counts links by state (`n_<state>`; unpaid is the rest).
const SET_RECORD = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if raw ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] ~= ARGV[5] then
  if ARGV[4] ~= 'unpaid' then redis.call('HINCRBY', KEYS[2], 'n_' .. ARGV[4], -1) end
  if ARGV[5] ~= 'unpaid' then redis.call('HINCRBY', KEYS[2], 'n_' .. ARGV[5], 1) end
  -- Paid links per batch (paid is never undone), for the batch.collected check: ARGV[6] is \`b_<batch>\`.
  if ARGV[5] == 'paid' and ARGV[6] then redis.call('HINCRBY', KEYS[2], ARGV[6], 1) end
end
return 1
`);

// KEYS: the check set, its sequence. ARGV: batch id. Asks for a batch.collected check (again).
const NOTE_CHECK = new LuaScript(`
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
return 1
`);

// KEYS: the check set. ARGV: batch id, the sequence number it was read with. Removes it unless asked for again since.
const SETTLE_CHECK = new LuaScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`);

export class PaymentStatusStore {
  readonly ledgerKey: string;
  readonly metaKey: string;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    /** The Paywint account (its API key). */
    readonly account: string,
  ) {
    this.ledgerKey = keys.ledger(account);
    this.metaKey = keys.paymentMeta(account);
  }

  bucketKey(slot: IndexSlot): string {
    return this.keys.paymentBucket(this.account, slot.bucket);
  }

  /** Indexes the ledger's entries (one HSCAN pass), unless another process is at it: then waits for it. */
  async indexLedger(options: { scanCount?: number } = {}): Promise<{ indexed: number }> {
    const lockKey = `${this.metaKey}:lock`;
    const token = `${process.pid}-${Date.now()}-${Math.random()}`;
    if ((await this.redis.set(lockKey, token, 'PX', INDEX_LOCK_MS, 'NX')) !== 'OK') {
      while ((await this.redis.exists(lockKey)) === 1) await sleep(100);
      return { indexed: 0 };
    }
    try {
      // The ledger's length and the count of entries indexed, read together: entries recorded during the pass are
      // indexed (and counted) as they are written, so the pass adds only what it covers beyond the count.
      const [[, lengthRaw], [, coveredRaw]] = (await this.redis.multi().hlen(this.ledgerKey).hget(this.metaKey, 'indexed').exec()) as [[null, number], [null, string | null]];
      const length = Number(lengthRaw);
      const covered = Number(coveredRaw ?? '0');
      let indexed = 0;
      let cursor = '0';
      // Pages are written without waiting for each other (at most a few out), while the scan reads on.
      const out = new Set<Promise<void>>();
      do {
        const [next, flat] = await this.redis.hscan(this.ledgerKey, cursor, 'COUNT', options.scanCount ?? 2000);
        cursor = next;
        const keys: string[] = [this.metaKey];
        const args: string[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const slot = slotOfPacked(packedIdOf(flat[i + 1]!));
          keys.push(this.bucketKey(slot));
          args.push(slot.field, slot.packed, encodeRecord(flat[i]!, null));
        }
        if (args.length > 0) {
          const write: Promise<void> = INDEX_RECORDS.run(this.redis, keys, args).then((n) => {
            indexed += Number(n);
            out.delete(write);
          });
          out.add(write);
          if (out.size >= 4) await Promise.race(out);
        }
        await this.redis.pexpire(lockKey, INDEX_LOCK_MS);
      } while (cursor !== '0');
      await Promise.all(out);
      if (length > covered) await this.redis.hincrby(this.metaKey, 'indexed', length - covered);
      return { indexed };
    } finally {
      if ((await this.redis.get(lockKey)) === token) await this.redis.del(lockKey);
    }
  }

  /** Indexes the ledger when it has grown since the last pass. True when a pass ran. */
  async ensureIndexed(): Promise<boolean> {
    const [length, covered] = await Promise.all([this.redis.hlen(this.ledgerKey), this.redis.hget(this.metaKey, 'indexed')]);
    if (length <= Number(covered ?? '0')) return false;
    await this.indexLedger();
    return true;
  }

  /** Links by payment state, the account's whole ledger (unpaid: the links nothing else is recorded for). */
  async countsByState(): Promise<Record<PaymentState, number>> {
    const [length, meta] = await Promise.all([this.redis.hlen(this.ledgerKey), this.redis.hgetall(this.metaKey)]);
    const counts = Object.fromEntries(PAYMENT_STATES.map((s) => [s, Math.max(0, Number(meta[`n_${s}`] ?? '0'))])) as Record<PaymentState, number>;
    counts.unpaid = Math.max(0, length - PAYMENT_STATES.reduce((sum, s) => (s === 'unpaid' ? sum : sum + counts[s]), 0));
    return counts;
  }

  /** Links of a batch recorded paid (counted as they become paid; see {@link paidField}). */
  async paidLinksOf(batchId: string): Promise<number> {
    return Number((await this.redis.hget(this.metaKey, paidField(batchId))) ?? '0');
  }

  /** Where batches wait for the batch.collected check: a sorted set, batch id by the sequence number of its last request. */
  get collectCheckKey(): string {
    return `${this.metaKey}:collect-check`;
  }

  /** Asks the notifier to check whether the batch is collected (every link it made paid). */
  async noteCollectCheck(batchId: string): Promise<void> {
    await NOTE_CHECK.run(this.redis, [this.collectCheckKey, `${this.collectCheckKey}:seq`], [batchId]);
  }

  /** Batches waiting for the check (at most `count`), each with the request it answers. */
  async collectChecks(count = 50): Promise<{ batchId: string; seq: string }[]> {
    const flat = await this.redis.zrange(this.collectCheckKey, '0', String(count - 1), 'WITHSCORES');
    const out: { batchId: string; seq: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ batchId: flat[i]!, seq: flat[i + 1]! });
    return out;
  }

  /** Forgets a check done, unless it was asked for again meanwhile (a finish or a payment during the check). */
  async settleCollectCheck(check: { batchId: string; seq: string }): Promise<void> {
    await SETTLE_CHECK.run(this.redis, [this.collectCheckKey], [check.batchId, check.seq]);
  }

  /** Records that the batch was found collected; true the first time only (its batch.collected is sent once). */
  async markCollected(batchId: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.metaKey, `k_${batchId}`, new Date().toISOString())) === 1;
  }

  /** Adds to a counter of the account's (webhooks accepted, rejected, contradicted...). */
  async count(name: string, by = 1): Promise<void> {
    await this.redis.hincrby(this.metaKey, `c_${name}`, by);
  }

  /** The counters {@link count} keeps. */
  async counters(): Promise<Record<string, number>> {
    const meta = await this.redis.hgetall(this.metaKey);
    return Object.fromEntries(Object.entries(meta).flatMap(([k, v]) => (k.startsWith('c_') ? [[k.slice(2), Number(v)]] : [])));
  }

  /** Remembers a paid stray payment likely made for `invoiceNumber` (a double payment once the invoice's own link is paid). */
  async notePaidStray(invoiceNumber: string, paymentId: string): Promise<void> {
    await this.redis.hset(this.metaKey, `s:${ledgerField(invoiceNumber)}`, paymentId);
  }

  /** The paid stray payment noted for an invoice, if any. */
  async paidStrayOf(invoiceNumber: string): Promise<string | null> {
    // Noted under the number as written before the ledger was keyed by the invoice's key.
    return (await this.redis.hget(this.metaKey, `s:${ledgerField(invoiceNumber)}`)) ?? (await this.redis.hget(this.metaKey, `s:${invoiceNumber}`));
  }

  /**
   * Indexes links just written to the ledger (new entries: each is counted in
   * `indexed`), in one script. For writers outside finish-rows (`ledger import`).
   */
  async indexNewEntries(links: readonly { invoiceNumber: string; paymentId: string }[]): Promise<void> {
    if (links.length === 0) return;
    const keys: string[] = [this.metaKey];
    const args: string[] = [];
    for (const link of links) {
      const slot = slotOf(link.paymentId);
      keys.push(this.bucketKey(slot));
      args.push(slot.field, slot.packed, encodeRecord(link.invoiceNumber, null));
    }
    // Indexed first, counted after: a crash between leaves the count short, and the next lookup that misses rebuilds.
    await INDEX_RECORDS.run(this.redis, keys, args);
    await this.redis.hincrby(this.metaKey, 'indexed', links.length);
  }

  /** Ties a payment id to an invoice (a link paylinks just learnt of, or the new id of a `retried`). */
  async indexPayment(paymentId: string, invoiceNumber: string): Promise<void> {
    const slot = slotOf(paymentId);
    await INDEX_RECORDS.run(this.redis, [this.metaKey, this.bucketKey(slot)], [slot.field, slot.packed, encodeRecord(invoiceNumber, null)]);
  }

  /**
   * The invoice a payment id belongs to, with its ledger entry; null when the
   * index has no record of it (index the ledger first: see ensureIndexed).
   */
  async lookup(paymentId: string): Promise<{ invoiceNumber: string; entry: LedgerEntry } | null> {
    const slot = slotOf(paymentId);
    const [[, collided], [, raw]] = (await this.redis.multi().hget(this.metaKey, `c:${slot.packed}`).hget(this.bucketKey(slot), slot.field).exec()) as [[null, string | null], [null, string | null]];
    for (const candidate of [collided, raw]) {
      if (candidate === null) continue;
      const invoiceNumber = splitFields(candidate)[0]!;
      // A record written before the ledger was keyed by the invoice's key holds the number as written.
      const field = ledgerField(invoiceNumber);
      const ledgerRaw = (await this.redis.hget(this.ledgerKey, field)) ?? (field === invoiceNumber ? null : await this.redis.hget(this.ledgerKey, invoiceNumber));
      if (ledgerRaw === null) continue;
      const entry = decodeLedgerEntry(ledgerRaw);
      if (entry.paymentId === paymentId || candidate === collided) return { invoiceNumber, entry };
      // The record is another id's: the ledger id of the invoice itself (this id shares its 62 bits and was
      // never indexed), or this id's own record (a retried payment's new id, indexed under the invoice).
      const own = slotOf(entry.paymentId);
      if (own.bucket !== slot.bucket || own.field !== slot.field) return { invoiceNumber, entry };
    }
    return null;
  }

  /** The payment status of an invoice whose ledger entry is `entry`. */
  async read(invoiceNumber: string, entry: LedgerEntry): Promise<PaymentStatus> {
    const { key, field } = await this.locate(invoiceNumber, entry.paymentId);
    return statusFrom(await this.redis.hget(key, field), invoiceNumber, entry);
  }

  /** Where the status record of an invoice's ledger payment id is: its bucket, or the collision hash when another invoice holds its field. */
  private async locate(invoiceNumber: string, paymentId: string): Promise<{ key: string; field: string }> {
    const slot = slotOf(paymentId);
    const inBucket = { key: this.bucketKey(slot), field: slot.field };
    const raw = await this.redis.hget(inBucket.key, inBucket.field);
    if (raw === null || sameInvoiceNumber(splitFields(raw)[0]!, invoiceNumber)) return inBucket;
    return { key: this.metaKey, field: `c:${slot.packed}` };
  }

  /**
   * Merges an observation into the invoice's status (see model.ts), by
   * compare-and-set: a concurrent write makes it read and merge again.
   */
  async record(invoiceNumber: string, entry: LedgerEntry, observation: Observation): Promise<MergeResult> {
    return this.update(invoiceNumber, entry, (current) => mergeStatus(current, observation));
  }

  /** Moves the invoice's current payment id (a `retried`), and indexes the new id. */
  async retried(invoiceNumber: string, entry: LedgerEntry, newPaymentId: string): Promise<MergeResult> {
    await this.indexPayment(newPaymentId, invoiceNumber);
    return this.update(invoiceNumber, entry, (current) => {
      const status = retriedTo(current, newPaymentId);
      return { status, changed: status !== current, stateChanged: status.state !== current.state };
    });
  }

  private async update(invoiceNumber: string, entry: LedgerEntry, merge: (current: PaymentStatus) => MergeResult): Promise<MergeResult> {
    const { key, field } = await this.locate(invoiceNumber, entry.paymentId);
    for (;;) {
      const raw = await this.redis.hget(key, field);
      const current = statusFrom(raw, invoiceNumber, entry);
      const result = merge(current);
      if (!result.changed) return result;
      const next = encodeRecord(invoiceNumber, result.status, entry.paymentId, entry.amountCents);
      if (Number(await SET_RECORD.run(this.redis, [key, this.metaKey], [field, raw ?? '', next, current.state, result.status.state, paidField(entry.batchId)])) === 1) return result;
    }
  }

  /**
   * The payment status of each invoice that has a link in the ledger (those
   * without one are left out of the map), `chunk` invoices per round trip.
   */
  async readStatuses(invoiceNumbers: readonly string[], chunk = 500): Promise<Map<string, InvoicePayment>> {
    const out = new Map<string, InvoicePayment>();
    for (let i = 0; i < invoiceNumbers.length; i += chunk) {
      const part = invoiceNumbers.slice(i, i + chunk);
      const entries = await this.redis.hmget(this.ledgerKey, ...part.map(ledgerField));
      const found = part.flatMap((invoiceNumber, j) => (entries[j] ? [{ invoiceNumber, entry: decodeLedgerEntry(entries[j]!) }] : []));
      for (const payment of await this.withStatuses(found)) out.set(payment.invoiceNumber, payment);
    }
    return out;
  }

  /** The statuses of ledger entries already read, in one pipeline. */
  async withStatuses(found: readonly { invoiceNumber: string; entry: LedgerEntry }[]): Promise<InvoicePayment[]> {
    if (found.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { entry } of found) {
      const slot = slotOf(entry.paymentId);
      pipeline.hget(this.bucketKey(slot), slot.field);
    }
    const replies = (await pipeline.exec()) ?? [];
    return Promise.all(
      found.map(async ({ invoiceNumber, entry }, i) => {
        const [error, raw] = replies[i] ?? [null, null];
        if (error) throw error;
        // A record of another invoice in the field (62 bits shared): this one's is in the collision hash.
        if (typeof raw === 'string' && !sameInvoiceNumber(splitFields(raw)[0]!, invoiceNumber)) return { invoiceNumber, entry, status: await this.read(invoiceNumber, entry) };
        return { invoiceNumber, entry, status: statusFrom(raw as string | null, invoiceNumber, entry) };
      }),
    );
  }
}

/**
 * Whether an index record's invoice number and a caller's are one invoice:
 * records hold the ledger field (the key), or the number as written when they
 * were made before the ledger was keyed by it; callers may pass either.
 */
function sameInvoiceNumber(recorded: string, invoiceNumber: string): boolean {
  return recorded === invoiceNumber || ledgerField(recorded) === ledgerField(invoiceNumber);
}

/** The meta hash's field counting a batch's paid links. */
function paidField(batchId: string): string {
  return `b_${batchId}`;
}

/** The status in a record, or unpaid when there is none or it belongs to another invoice (a 62-bit collision). */
function statusFrom(raw: string | null, invoiceNumber: string, entry: LedgerEntry): PaymentStatus {
  if (raw === null) return unpaidStatus(entry.paymentId);
  const record = decodeRecord(raw, entry.paymentId, entry.amountCents);
  return sameInvoiceNumber(record.invoiceNumber, invoiceNumber) && record.status ? record.status : unpaidStatus(entry.paymentId);
}

/** The packed payment id of a stored ledger entry (its first field), without decoding the rest. */
function packedIdOf(ledgerRaw: string): string {
  if (ledgerRaw.startsWith('{') || ledgerRaw.startsWith('[')) return slotOf(decodeLedgerEntry(ledgerRaw).paymentId).packed;
  const end = ledgerRaw.indexOf('\x1f');
  return end < 0 ? ledgerRaw : ledgerRaw.slice(0, end);
}

