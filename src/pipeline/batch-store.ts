/**
 * Batches in Redis: one input file each. Metadata, state and counters live in
 * a hash any process can read; the input records in a list (so the collector
 * never needs the input file); each row's final result in a hash by row.
 *
 * States: `submitting` (rows still being added) → `queued` → `running` →
 * `completed` | `completed_with_errors`; or `cancelled`, or `failed` (the
 * batch was stopped, e.g. Paywint refused the credentials). A batch submitted
 * to be held goes `submitting` → `held` (stored, nothing queued, expiring)
 * and, once released, `submitting` → `queued` like any other.
 */
import type { DecimalMark } from '../intake/money.js';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ChainableCommander } from 'ioredis';
import { LuaScript, type RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { POSSIBLE_DUPLICATE_CODE } from '../core/errors.js';
import { encodeLedgerEntry, RELEASE_CLAIM_LUA, type LedgerEntry, type RowRef } from './ledger.js';
import { ROW_STATUSES, type RowResult, type RowStatus } from './output.js';

export const BATCH_STATES = ['submitting', 'held', 'queued', 'running', 'completed', 'completed_with_errors', 'cancelled', 'failed'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

export const FINISHED_STATES: readonly BatchState[] = ['completed', 'completed_with_errors', 'cancelled', 'failed'];

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
}

export interface NewBatch {
  file: string;
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
  /** Rows with a final result. */
  done: number;
  counts: Record<RowStatus, number>;
  /** Sum of the amounts of `created` rows, in cents. */
  createdCents: number;
  /** Sum of the amounts of `exists` rows, in cents. */
  existsCents: number;
  /** When a held batch expires unless released (null when not held). */
  holdExpiresAt: string | null;
  /** Why the batch stopped, when it did. */
  stopCode: string | null;
  stopMessage: string | null;
}

const StoredResultSchema = z.object({
  s: z.enum(ROW_STATUSES),
  id: z.string().nullish(),
  link: z.string().nullish(),
  code: z.string().nullish(),
  msg: z.string().nullish(),
  att: z.number().int(),
});

function encodeResult(r: RowResult): string {
  return JSON.stringify({ s: r.status, id: r.paymentId ?? null, link: r.paymentLink ?? null, code: r.errorCode ?? null, msg: r.errorMessage ?? null, att: r.attempts });
}

function decodeResult(raw: string): RowResult {
  const r = StoredResultSchema.parse(JSON.parse(raw));
  return { status: r.s, paymentId: r.id ?? null, paymentLink: r.link ?? null, errorCode: r.code ?? null, errorMessage: r.msg ?? null, attempts: r.att };
}

/**
 * Records a row's final result once: the result, the batch counters, the
 * ledger entry of a created link and the release of the claim (keeping any
 * unknown outcomes for the invoice's next claim), in one atomic step. A
 * second call for the same row changes nothing and returns 0, except that
 * a second link (two runs of one job at once, after a lost lock) is never
 * dropped: it goes to the ledger if the invoice has none there, and the
 * recorded row is flagged with both links.
 *
 * The row that finishes the batch (its last result) also records one finish
 * event (`<batch>-f<n>`, n counting the batch's finishes: a retried batch
 * finishes again) in the same step, for the notifications to pick up.
 *
 * KEYS: results, batch, ledger, claims, unsettled, finish events.
 * ARGV: row, result JSON, status, invoice, claim owner, ledger entry JSON, amount cents, now ISO, now ms.
 */
const FINISH_ROW = new LuaScript(`${RELEASE_CLAIM_LUA}
local linked = ARGV[6] ~= ''
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  if linked then
    local recorded = cjson.decode(redis.call('HGET', KEYS[1], ARGV[1]))
    local mine = cjson.decode(ARGV[6])
    if recorded.id ~= mine.paymentId then
      redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[6])
      local note = 'another run of this row also created link ' .. mine.paymentId .. ' (' .. mine.paymentLink .. '): Paywint holds two links for this invoice; cancel one before mailing'
      if type(recorded.msg) == 'string' then note = recorded.msg .. '; ' .. note end
      recorded.code = '${POSSIBLE_DUPLICATE_CODE}'
      recorded.msg = note
      redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(recorded))
    end
  end
  if ARGV[5] ~= '' then releaseClaim(KEYS[4], KEYS[5], ARGV[4], ARGV[5], linked) end
  return 0
end
local status = ARGV[3]
redis.call('HINCRBY', KEYS[2], 'n_' .. status, 1)
local done = redis.call('HINCRBY', KEYS[2], 'done', 1)
if linked then redis.call('HSET', KEYS[3], ARGV[4], ARGV[6]) end
if status == 'created' or status == 'exists' then
  redis.call('HINCRBY', KEYS[2], 'cents_' .. status, ARGV[7])
end
if ARGV[5] ~= '' then releaseClaim(KEYS[4], KEYS[5], ARGV[4], ARGV[5], linked) end
local state = redis.call('HGET', KEYS[2], 'state')
-- Only a fully submitted batch starts running: one still being submitted stays \`submitting\`, so a
-- submission that fails or dies half-way is still seen as such (and never resumed as if whole).
if ARGV[5] ~= '' and state == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running', 'started_at', ARGV[8])
  state = 'running'
end
if done >= tonumber(redis.call('HGET', KEYS[2], 'rows')) then
  if state ~= 'cancelled' and state ~= 'failed' then
    local good = tonumber(redis.call('HGET', KEYS[2], 'n_created') or '0') + tonumber(redis.call('HGET', KEYS[2], 'n_exists') or '0')
    local final = 'completed_with_errors'
    if good == done then final = 'completed' end
    redis.call('HSET', KEYS[2], 'state', final)
  end
  redis.call('HSET', KEYS[2], 'finished_at', ARGV[8])
  if done == tonumber(redis.call('HGET', KEYS[2], 'rows')) then
    local n = redis.call('HINCRBY', KEYS[2], 'finishes', 1)
    redis.call('ZADD', KEYS[6], ARGV[9], redis.call('HGET', KEYS[2], 'id') .. '-f' .. n)
  end
end
return 1
`);

// KEYS: batch. ARGV: from-states (comma list), to-state, field to stamp, now, stop code, stop message.
const TRANSITION = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == state then
    redis.call('HSET', KEYS[1], 'state', ARGV[2])
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
    if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'stop_code', ARGV[5], 'stop_message', ARGV[6]) end
    return ARGV[2]
  end
end
return state
`);

/**
 * Takes a failed row's result back so it can run again: the counters go
 * down, a finished batch is running again. KEYS: results, batch. ARGV: row.
 */
const REOPEN_ROW = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or cjson.decode(raw).s ~= 'failed' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'n_failed', -1)
redis.call('HINCRBY', KEYS[2], 'done', -1)
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'completed' or state == 'completed_with_errors' or state == 'failed' then
  redis.call('HSET', KEYS[2], 'state', 'running')
  redis.call('HDEL', KEYS[2], 'finished_at', 'stop_code', 'stop_message', 'stopped_at')
end
return 1
`);

/**
 * A held batch's end: `release` takes it back to `submitting` (its keys kept
 * for good), `discard` deletes it and its index entries. Returns 1, or the
 * state it is in (false when there is no such batch).
 * KEYS: batch, index, by-sha, then the batch's other keys. ARGV: action, batch id.
 */
const END_HOLD = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state ~= 'held' then return state end
if ARGV[1] == 'release' then
  redis.call('HSET', KEYS[1], 'state', 'submitting')
  for i = 4, #KEYS do redis.call('PERSIST', KEYS[i]) end
  redis.call('PERSIST', KEYS[1])
  return 1
end
local field = (redis.call('HGET', KEYS[1], 'account') or '') .. ':' .. (redis.call('HGET', KEYS[1], 'sha256') or '')
if redis.call('HGET', KEYS[3], field) == ARGV[2] then redis.call('HDEL', KEYS[3], field) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`);

/** A new batch id: sortable by time, never all digits, no `:` (BullMQ job ids derive from it). */
export function newBatchId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The BullMQ job id of a row. */
export function rowJobId(batchId: string, row: number): string {
  return `${batchId}-r${row}`;
}

export interface FinishRowOptions {
  /** The invoice the row is for ('' for rows that have none). */
  invoiceNumber?: string;
  /** The job holding the invoice's claim: released when the row finishes. */
  claimOwner?: string;
  /** The link just created: written to the ledger in the same step. */
  ledgerEntry?: LedgerEntry;
  ledgerKey?: string;
  claimsKey?: string;
  /** Where unknown outcomes of a released claim are kept (see Keys.unsettled). */
  unsettledKey?: string;
  amountCents?: number;
}

export class BatchStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

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
    const h = await this.redis.hgetall(this.keys.batch(id));
    if (!h.id) return undefined;
    const int = (k: string) => Number(h[k] ?? 0);
    const str = (k: string) => h[k] ?? null;
    const counts = Object.fromEntries(ROW_STATUSES.map((s) => [s, int(`n_${s}`)])) as Record<RowStatus, number>;
    return {
      id: h.id,
      file: h.file ?? '',
      sha256: h.sha256 ?? '',
      account: h.account ?? '',
      source: str('source'),
      sourceRef: str('source_ref'),
      layout: JSON.parse(h.layout ?? '{}') as BatchLayout,
      rows: int('rows'),
      valid: int('valid'),
      validCents: h.valid_cents === undefined ? null : Number(h.valid_cents),
      state: (h.state ?? 'failed') as BatchState,
      createdAt: h.created_at ?? '',
      submittedAt: str('submitted_at'),
      startedAt: str('started_at'),
      finishedAt: str('finished_at'),
      done: int('done'),
      counts,
      createdCents: int('cents_created'),
      existsCents: int('cents_exists'),
      holdExpiresAt: h.state === 'held' ? str('hold_expires_at') : null,
      stopCode: str('stop_code'),
      stopMessage: str('stop_message'),
    };
  }

  async getState(id: string): Promise<BatchState | undefined> {
    return ((await this.redis.hget(this.keys.batch(id), 'state')) ?? undefined) as BatchState | undefined;
  }

  /** Ids of the most recent batches, newest first. */
  async recent(limit: number): Promise<string[]> {
    return this.redis.zrevrange(this.keys.batchIndex(), 0, limit - 1);
  }

  /** Appends input records (`[line, ...cells]`) in file order. */
  appendRows(pipeline: ChainableCommander, id: string, rows: readonly (readonly [number, ...string[]])[]): void {
    if (rows.length > 0) pipeline.rpush(this.keys.batchRows(id), ...rows.map((r) => JSON.stringify(r)));
  }

  /** Reads input records `[start, start + count)`. */
  async readRows(id: string, start: number, count: number): Promise<{ line: number; cells: string[] }[]> {
    const raw = await this.redis.lrange(this.keys.batchRows(id), start, start + count - 1);
    return raw.map((r) => {
      const [line, ...cells] = JSON.parse(r) as [number, ...string[]];
      return { line, cells };
    });
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

  /** Records a row's final result (see FINISH_ROW). Resolves false when it was recorded before. */
  async finishRow(id: string, row: number, result: RowResult, options: FinishRowOptions = {}): Promise<boolean> {
    // Without a claim, the batch hash stands in for the ledger and claims keys: never touched, same slot.
    const claimsKey = options.claimsKey ?? this.keys.batch(id);
    const ledgerKey = options.ledgerKey ?? this.keys.batch(id);
    const unsettledKey = options.unsettledKey ?? this.keys.batch(id);
    const recorded = await FINISH_ROW.run(
      this.redis,
      [this.keys.batchResults(id), this.keys.batch(id), ledgerKey, claimsKey, unsettledKey, this.keys.finishEvents()],
      [
        row,
        encodeResult(result),
        result.status,
        options.invoiceNumber ?? '',
        options.claimOwner ?? '',
        options.ledgerEntry ? encodeLedgerEntry(options.ledgerEntry) : '',
        options.amountCents ?? 0,
        new Date().toISOString(),
        Date.now(),
      ],
    );
    return recorded === 1;
  }

  /** Same as {@link finishRow} for many rows without a claim (invalid rows), in one pipeline. */
  finishRowsInPipeline(pipeline: ChainableCommander, id: string, rows: readonly { row: number; result: RowResult }[]): void {
    const now = new Date().toISOString();
    // Rows without a claim name the batch hash for the ledger and claims keys: never touched, same slot.
    const keys = [this.keys.batchResults(id), this.keys.batch(id), this.keys.batch(id), this.keys.batch(id), this.keys.batch(id), this.keys.finishEvents()];
    for (const { row, result } of rows) {
      FINISH_ROW.queue(pipeline, keys, [row, encodeResult(result), result.status, '', '', '', 0, now, Date.now()]);
    }
  }

  /** Takes back a failed row's result so it can be retried. Resolves false when the row is not failed. */
  async reopenRow(id: string, row: number): Promise<boolean> {
    return (await REOPEN_ROW.run(this.redis, [this.keys.batchResults(id), this.keys.batch(id)], [row])) === 1;
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
    await this.transition(id, ['submitting'], 'queued');
  }

  /**
   * Records a finish event for a batch that stopped without all its rows
   * (its submission failed half-way), as the last row's result does for the others.
   */
  async recordFinish(id: string): Promise<void> {
    const n = await this.redis.hincrby(this.keys.batch(id), 'finishes', 1);
    await this.redis.zadd(this.keys.finishEvents(), Date.now(), `${id}-f${n}`);
  }

  /** Finish events not yet turned into notifications, oldest first: `[event id, batch id]`. */
  async pendingFinishes(limit: number): Promise<{ eventId: string; batchId: string }[]> {
    const ids = await this.redis.zrange(this.keys.finishEvents(), '0', String(limit - 1));
    return ids.map((eventId) => ({ eventId, batchId: eventId.replace(/-f\d+$/, '') }));
  }

  /** Forgets a finish event once its notifications are queued. */
  async settleFinish(eventId: string): Promise<void> {
    await this.redis.zrem(this.keys.finishEvents(), eventId);
  }

  /**
   * Moves the batch to `to` if it is in one of `from`. Resolves with the
   * state it is in afterwards (undefined when there is no such batch).
   */
  async transition(id: string, from: readonly BatchState[], to: BatchState, stop?: { code: string; message: string }): Promise<BatchState | undefined> {
    const stamp = FINISHED_STATES.includes(to) ? 'stopped_at' : '';
    const state = await TRANSITION.run(
      this.redis,
      [this.keys.batch(id)],
      [from.join(','), to, stamp, new Date().toISOString(), stop?.code ?? '', stop?.message ?? ''],
    );
    return (state ?? undefined) as BatchState | undefined;
  }
}
