/**
 * Batches in Redis: one input file each. Metadata, state and counters live in
 * a hash any process can read; the input records in a list (so the collector
 * never needs the input file); each row's final result in a hash by row.
 * Records and results are stored compactly (see batch-codec.ts).
 *
 * States: see batch-states.ts. A held batch is stored, nothing queued,
 * expiring. A stopped batch's rows without a result are not touched one by
 * one: its state accounts for them (`failed`, with the stop's code), once no
 * job of the batch is active; {@link BatchStore.settleStopped} records its
 * finish then. Reads never write.
 *
 * Retention: once a batch finishes (or stops), its records and results expire
 * after the retention it was submitted with; the batch hash and the ledger stay.
 * A held batch's keys expire after its hold time instead, unless released.
 */
import type { DecimalMark } from '../core/money.js';
import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { encodeLedgerEntry, ledgerField, type LedgerEntry, type RowRef } from './ledger.js';
import { ROW_STATUSES, type RowResult, type RowStatus } from './output.js';
import { decodeRecord, decodeResult, encodeRecord, encodeResult } from './batch-codec.js';
import { FINISHED_STATES, isStoppedState, type BatchState } from './batch-states.js';
import { FinishEvents } from './finish-events.js';
import { rowsOfJobId } from './job-ids.js';
import { END_HOLD } from './scripts/end-hold.js';
import { FINISH_ROWS } from './scripts/finish-rows.js';
import { slotOf, type PaymentIndexKeys } from './payment-status/encoding.js';
import { REOPEN_ROWS } from './scripts/reopen-rows.js';
import { TRANSITION } from './scripts/transition.js';

export { BATCH_STATES, FINISHED_STATES, type BatchState } from './batch-states.js';

export interface BatchLayout {
  headers: string[];
  invoice: number;
  amount: number;
  description: number | null;
  delimiter: string;
  encoding: string;
  format?: 'csv' | 'workbook';
  sheet?: string | null;
  headerLine?: number;
  /** The file's decimal mark, as stated or decided while it was checked. */
  decimal?: DecimalMark | null;
  /** The customer's e-mail address, name and due date columns, when the file has them (issue 19). */
  email?: number | null;
  name?: number | null;
  due?: number | null;
}

export interface NewBatch {
  file: string;
  /** Rows per `create-link` job (see the producer). */
  chunkRows?: number;
  /** How long the batch's records and results are kept once it finished, ms. */
  retentionMs?: number;
  sha256: string;
  /** The Paywint API key the batch runs under (never the secret). */
  account: string;
  layout: BatchLayout;
  /** Data records in the file. */
  rows: number;
  /** Records that will be sent. */
  valid: number;
  /** Where the file came from, when not the command line: `inbox` (the drop folder). */
  source?: string;
  /** The source's own reference for the file (the drop folder's pickup id), to find its batch again. */
  sourceRef?: string;
  /** Sum of the valid records' amounts, in cents (null for batches stored before it was kept). */
  validCents?: number | null;
}

export interface Batch extends Omit<NewBatch, 'source' | 'sourceRef'> {
  id: string;
  source: string | null;
  sourceRef: string | null;
  state: BatchState;
  createdAt: string;
  submittedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /**
   * Rows accounted for: those with a final result and, once the batch stopped
   * (cancelled, or failed), those it will never send (counted `failed`).
   */
  done: number;
  counts: Record<RowStatus, number>;
  /** Sum of the amounts of `created` rows, in cents. */
  createdCents: number;
  /** Sum of the amounts of `exists` rows, in cents. */
  existsCents: number;
  /**
   * `failed` rows whose invoice had a request whose outcome is unknown: Paywint may hold a link for them (look
   * before mailing or sending again). Included in `counts.failed`.
   */
  maybeLinked: number;
  /** When a held batch expires unless released (null when not held). */
  holdExpiresAt: string | null;
  /** Why the batch stopped, when it did. */
  stopCode: string | null;
  stopMessage: string | null;
  /** When the batch's records and results are removed (ISO time), once it finished. */
  expiresAt?: string | null;
  /** Rows of a stopped batch that will never be sent (included in `done` and `counts.failed`). */
  unsent?: number;
}

/** A new batch id: sortable by time, never all digits, no `:` (BullMQ job ids derive from it). */
export function newBatchId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The link a note about a second link shows: `id (link)`. */
function shownLink(entry: Pick<LedgerEntry, 'paymentId' | 'paymentLink'>): string {
  return `${entry.paymentId} (${entry.paymentLink})`;
}

/** A link's payment index bucket (pushed onto the script's KEYS), field and packed id; empty when it is not indexed here. */
function indexArgs(keys: string[], index: PaymentIndexKeys | undefined, entry: LedgerEntry | undefined): [number | '', string, string] {
  if (!index || !entry) return ['', '', ''];
  const slot = slotOf(entry.paymentId);
  keys.push(index.bucketKey(slot.bucket));
  return [keys.length, slot.field, slot.packed];
}

/** One row of {@link BatchStore.finishRows}. */
export interface FinishedRow {
  row: number;
  result: RowResult;
  /** The invoice the row is for. */
  invoiceNumber?: string;
  /** The job holding the invoice's claim: released when the row finishes. */
  claimOwner?: string;
  /** The link just created: written to the ledger in the same step. */
  ledgerEntry?: LedgerEntry;
  amountCents?: number;
}

/** The account's ledger keys a group of finished rows touches (see Ledger). */
export interface LedgerKeys {
  ledgerKey: string;
  claimsKey: string;
  unsettledKey: string;
  /** The account's payment index: a link written to the ledger is indexed in the same step. Default: not indexed (rebuilt later). */
  paymentIndex?: PaymentIndexKeys;
}

const DAY_MS = 86_400_000;

export interface BatchStoreOptions {
  /** How long a finished batch's records and results are kept, ms (written into each new batch). Default 30 days. */
  retentionMs?: number;
}

export class BatchStore {
  private readonly retentionMs: number;
  private readonly finishEvents: FinishEvents;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    options: BatchStoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? 30 * DAY_MS;
    this.finishEvents = new FinishEvents(redis, keys);
  }

  /** Creates the batch record in state `submitting`. */
  async create(batch: NewBatch, id = newBatchId()): Promise<string> {
    const now = new Date().toISOString();
    await this.redis
      .multi()
      .hset(this.keys.batch(id), {
        id,
        file: batch.file,
        sha256: batch.sha256,
        account: batch.account,
        layout: JSON.stringify(batch.layout),
        rows: batch.rows,
        valid: batch.valid,
        ...(batch.source === undefined ? {} : { source: batch.source }),
        ...(batch.sourceRef === undefined ? {} : { source_ref: batch.sourceRef }),
        ...(batch.validCents === undefined || batch.validCents === null ? {} : { valid_cents: batch.validCents }),
        chunk_rows: batch.chunkRows ?? 0,
        retention_ms: Math.round(batch.retentionMs ?? this.retentionMs),
        state: 'submitting',
        created_at: now,
        done: 0,
      })
      .zadd(this.keys.batchIndex(), Date.now(), id)
      .hset(this.keys.batchesBySha(), `${batch.account}:${batch.sha256}`, id)
      .exec();
    return id;
  }

  /** The newest batch made from this file under this account, if any. */
  async findBySha(account: string, sha256: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.batchesBySha(), `${account}:${sha256}`)) ?? undefined;
  }

  async get(id: string): Promise<Batch | undefined> {
    let h = await this.redis.hgetall(this.keys.batch(id));
    if (!h.id) return undefined;
    let unsent = 0;
    if (isStoppedState(h.state) && h.submitted_at && Number(h.done ?? 0) < Number(h.rows ?? 0)) {
      // Rows of a stopped batch without a result will not be sent, except those still in flight. Counted
      // before the counters are read again: a row that ends in between is counted twice, never missed.
      const inFlight = await this.rowsInFlight(id, h.account ?? '');
      h = await this.redis.hgetall(this.keys.batch(id));
      unsent = Math.max(0, Number(h.rows ?? 0) - Number(h.done ?? 0) - inFlight);
    }
    const int = (k: string) => Number(h[k] ?? 0);
    const str = (k: string) => h[k] ?? null;
    const counts = Object.fromEntries(ROW_STATUSES.map((s) => [s, int(`n_${s}`)])) as Record<RowStatus, number>;
    const rows = int('rows');
    const state = (h.state ?? 'failed') as BatchState;
    const done = int('done') + unsent;
    counts.failed += unsent;
    return {
      id: h.id ?? id,
      file: h.file ?? '',
      sha256: h.sha256 ?? '',
      account: h.account ?? '',
      source: str('source'),
      sourceRef: str('source_ref'),
      layout: JSON.parse(h.layout ?? '{}') as BatchLayout,
      rows,
      valid: int('valid'),
      validCents: h.valid_cents === undefined ? null : Number(h.valid_cents),
      state,
      createdAt: h.created_at ?? '',
      submittedAt: str('submitted_at'),
      startedAt: str('started_at'),
      finishedAt: str('finished_at'),
      done,
      counts,
      createdCents: int('cents_created'),
      existsCents: int('cents_exists'),
      maybeLinked: int('n_maybe_linked'),
      holdExpiresAt: h.state === 'held' ? str('hold_expires_at') : null,
      stopCode: str('stop_code'),
      stopMessage: str('stop_message'),
      expiresAt: h.expires_at_ms ? new Date(Number(h.expires_at_ms)).toISOString() : null,
      unsent,
    };
  }

  /**
   * Rows of a stopped batch that may still be in flight: those whose invoice
   * is claimed by one of the batch's active jobs but `exceptJob` (a job that
   * sends nothing more). A row of an active job not claimed yet will find the
   * batch stopped and never be sent.
   */
  private async rowsInFlight(id: string, account: string, exceptJob?: string): Promise<number> {
    const active = new Set((await this.redis.lrange(this.keys.queueActive(), 0, -1)).filter((jobId) => jobId !== exceptJob && rowsOfJobId(id, jobId) !== undefined));
    if (active.size === 0) return 0;
    const claims = await this.redis.hvals(this.keys.claims(account));
    return claims.filter((raw) => active.has((JSON.parse(raw) as { owner: string }).owner)).length;
  }

  /** Whether the batch's records are still kept (they expire after its retention, once it finished). */
  async hasRecords(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.batchRows(id))) === 1;
  }

  async getState(id: string): Promise<BatchState | undefined> {
    return ((await this.redis.hget(this.keys.batch(id), 'state')) ?? undefined) as BatchState | undefined;
  }

  /** What a worker needs of a batch before sending its rows; undefined when there is no such batch. */
  async getForWork(id: string): Promise<{ state: BatchState; layout: BatchLayout } | undefined> {
    const [state, layout] = await this.redis.hmget(this.keys.batch(id), 'state', 'layout');
    if (!state) return undefined;
    return { state: state as BatchState, layout: JSON.parse(layout ?? '{}') as BatchLayout };
  }

  /** Ids of the most recent batches, newest first. */
  async recent(limit: number): Promise<string[]> {
    return this.redis.zrevrange(this.keys.batchIndex(), 0, limit - 1);
  }

  /** Appends input records in file order; `first` is the index of the first. */
  appendRows(pipeline: ChainableCommander, id: string, first: number, rows: readonly { line: number; cells: readonly string[] }[]): void {
    if (rows.length > 0) pipeline.rpush(this.keys.batchRows(id), ...rows.map((r, i) => encodeRecord(first + i, r.line, r.cells)));
  }

  /** Reads input records `[start, start + count)`. */
  async readRows(id: string, start: number, count: number): Promise<{ line: number; cells: string[] }[]> {
    const raw = await this.redis.lrange(this.keys.batchRows(id), start, start + count - 1);
    return raw.map((r, i) => decodeRecord(start + i, r));
  }

  /** Final results of rows `[start, start + count)`; undefined where a row has none yet. */
  async readResults(id: string, start: number, count: number): Promise<(RowResult | undefined)[]> {
    if (count <= 0) return [];
    const fields = Array.from({ length: count }, (_, i) => String(start + i));
    const raw = await this.redis.hmget(this.keys.batchResults(id), ...fields);
    return raw.map((r) => (r === null ? undefined : decodeResult(r)));
  }

  /** Where a row's result and its batch live, for the ledger's claim. */
  rowRef(id: string, row: number): RowRef {
    return { resultsKey: this.keys.batchResults(id), batchKey: this.keys.batch(id), row };
  }

  /** Records the final results of rows of one batch in one script call (see FINISH_ROWS); true for each row recorded now. */
  async finishRows(id: string, rows: readonly FinishedRow[], ledger?: LedgerKeys): Promise<boolean[]> {
    if (rows.length === 0) return [];
    const [keys, args] = this.finishArgs(id, rows, ledger);
    const reply = (await FINISH_ROWS.run(this.redis, keys, args)) as number[];
    return reply.map((r) => r === 1);
  }

  /** {@link finishRows} for rows without a claim (invalid ones), queued on a pipeline. */
  finishRowsInPipeline(pipeline: ChainableCommander, id: string, rows: readonly { row: number; result: RowResult }[]): void {
    if (rows.length === 0) return;
    const [keys, args] = this.finishArgs(id, rows);
    FINISH_ROWS.queue(pipeline, keys, args);
  }

  private finishArgs(id: string, rows: readonly FinishedRow[], ledger?: LedgerKeys): [string[], (string | number)[]] {
    // Without a claim, the batch hash stands in for the ledger and claims keys: never touched, same slot.
    const batchKey = this.keys.batch(id);
    const index = ledger?.paymentIndex;
    const keys = [this.keys.batchResults(id), batchKey, ledger?.ledgerKey ?? batchKey, ledger?.claimsKey ?? batchKey, ledger?.unsettledKey ?? batchKey, this.keys.batchRows(id), this.keys.finishEvents(), index?.metaKey ?? batchKey];
    const now = new Date();
    const args: (string | number)[] = [now.toISOString(), now.getTime()];
    for (const r of rows) {
      const entry = r.ledgerEntry;
      args.push(
        r.row,
        encodeResult(r.result),
        r.result.status,
        r.invoiceNumber === undefined ? '' : ledgerField(r.invoiceNumber),
        ledger ? (r.claimOwner ?? '') : '',
        entry ? encodeLedgerEntry(entry) : '',
        r.amountCents ?? 0,
        entry ? shownLink(entry) : '',
        ...indexArgs(keys, index, entry),
      );
    }
    return [keys, args];
  }

  /**
   * Takes back failed rows' results so they can be retried; with `resume`, a
   * stopped batch runs again too. Resolves with the rows taken back.
   */
  async reopenRows(id: string, rows: readonly number[], resume = false): Promise<number[]> {
    const reply = (await REOPEN_ROWS.run(this.redis, [this.keys.batchResults(id), this.keys.batch(id), this.keys.batchRows(id)], [resume ? '1' : '', ...rows])) as string[];
    return reply.map(Number);
  }

  /** The keys of one batch besides its hash: a held batch's TTL covers them all. */
  private batchDataKeys(id: string): string[] {
    return [this.keys.batchRows(id), this.keys.batchResults(id)];
  }

  /**
   * Marks every row as stored, none queued: `submitting` → `held`; the batch
   * and its rows expire after `ttlSeconds` unless released first.
   */
  async hold(id: string, ttlSeconds: number): Promise<void> {
    await this.redis.hset(this.keys.batch(id), 'submitted_at', new Date().toISOString(), 'hold_expires_at', new Date(Date.now() + ttlSeconds * 1000).toISOString());
    const state = await this.transition(id, ['submitting'], 'held');
    if (state !== 'held') return;
    const pipeline = this.redis.multi();
    for (const key of [this.keys.batch(id), ...this.batchDataKeys(id)]) pipeline.expire(key, ttlSeconds);
    await pipeline.exec();
  }

  /**
   * Ends a held batch: `release` moves it to `submitting` (its rows are then
   * queued, and {@link markSubmitted} follows) and keeps it for good;
   * `discard` deletes it. Resolves `'done'`, the state it is in when not
   * held, or undefined when there is no such batch (or it expired).
   */
  async endHold(id: string, action: 'release' | 'discard'): Promise<'done' | BatchState | undefined> {
    const r = await END_HOLD.run(this.redis, [this.keys.batch(id), this.keys.batchIndex(), this.keys.batchesBySha(), ...this.batchDataKeys(id)], [action, id]);
    if (r === 1) return 'done';
    return (r ?? undefined) as BatchState | undefined;
  }

  /** Marks every row as stored and queued: `submitting` → `queued` (unless workers already moved it on). */
  async markSubmitted(id: string): Promise<void> {
    await this.redis.hset(this.keys.batch(id), 'submitted_at', new Date().toISOString());
    const state = await this.transition(id, ['submitting'], 'queued');
    // Stopped while its rows were being queued: its rows may all be accounted for now.
    if (isStoppedState(state)) await this.settleStopped(id);
  }

  /**
   * Settles a stopped batch (cancelled or failed): once every row of it is
   * accounted for (none in flight but those of `exceptJob`, a job that sends
   * nothing more), the batch has finished and its finish event is recorded,
   * once, whoever settles it first. Nothing for a batch that is not stopped,
   * whose submission had not ended, or that has its event. Called where a
   * stopped batch may have let go of its last row: when it stops, when a
   * stopped batch's submission ends, and when a job of it ends.
   */
  async settleStopped(id: string, exceptJob?: string): Promise<void> {
    const [state, submittedAt, done, rows, finishEvent, account] = await this.redis.hmget(this.keys.batch(id), 'state', 'submitted_at', 'done', 'rows', 'finish_event', 'account');
    if (!isStoppedState(state) || finishEvent !== null) return;
    // A batch whose submission failed half-way never ran its rows: nothing can be in flight.
    if (submittedAt !== null && Number(done ?? 0) < Number(rows ?? 0) && (await this.rowsInFlight(id, account ?? '', exceptJob)) > 0) return;
    await this.finishEvents.recordStopped(id);
  }

  /** Finish events not yet turned into notifications, oldest first (see FinishEvents). */
  async pendingFinishes(limit: number): Promise<{ eventId: string; batchId: string }[]> {
    return this.finishEvents.pending(limit);
  }

  /** Forgets a finish event once its notifications are queued. */
  async settleFinish(eventId: string): Promise<void> {
    await this.finishEvents.settle(eventId);
  }

  /**
   * Moves the batch to `to` if it is in one of `from`. Resolves with the
   * state it is in afterwards (undefined when there is no such batch).
   */
  async transition(id: string, from: readonly BatchState[], to: BatchState, stop?: { code: string; message: string }): Promise<BatchState | undefined> {
    const stamp = FINISHED_STATES.includes(to) ? 'stopped_at' : '';
    const now = new Date();
    const state = await TRANSITION.run(
      this.redis,
      [this.keys.batch(id), this.keys.batchRows(id), this.keys.batchResults(id)],
      [from.join(','), to, stamp, now.toISOString(), stop?.code ?? '', stop?.message ?? '', now.getTime()],
    );
    return (state ?? undefined) as BatchState | undefined;
  }
}
