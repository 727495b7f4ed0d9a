/**
 * Batches in Redis: one input file each. Metadata, state and counters live in
 * a hash any process can read; the input records in a list (so the collector
 * never needs the input file); each row's final result in a hash by row.
 * Records and results are stored compactly (see compact.ts): fixed fields in
 * a fixed order, ids as ids, no field names.
 *
 * States: `submitting` (rows still being added) → `queued` → `running` →
 * `completed` | `completed_with_errors`; or `cancelled`, or `failed` (the
 * batch was stopped, e.g. Paywint refused the credentials). A batch submitted
 * to be held goes `submitting` → `held` (stored, nothing queued, expiring)
 * and, once released, `submitting` → `queued` like any other. A stopped batch's
 * rows without a result are not touched one by one: its state accounts for
 * them (`failed`, with the stop's code), once no job of the batch is active.
 *
 * Retention: once a batch finishes (or stops), its records and results expire
 * after the retention it was submitted with; the batch hash and the ledger stay.
 * A held batch's keys expire after its hold time instead, unless released.
 */
import type { DecimalMark } from '../core/money.js';
import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { LuaScript, type RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { POSSIBLE_DUPLICATE_CODE } from '../core/errors.js';
import { encodeLedgerEntry, RELEASE_CLAIM_LUA, type LedgerEntry, type RowRef } from './ledger.js';
import { ROW_STATUSES, type RowResult, type RowStatus } from './output.js';
import { FIELDS_LUA, joinFields, packId, packLink, splitFields, unpackId, unpackLink } from './compact.js';

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

const STATUS_CODES: Record<RowStatus, string> = { created: 'c', exists: 'e', invalid: 'i', duplicate: 'd', conflict: 'x', failed: 'f' };
const STATUS_BY_CODE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [code, status as RowStatus]));

/**
 * A row's result as stored: status letter and attempts, payment id, link,
 * error code, error message; empty fields at the end left out. A created
 * row takes about 28 bytes (a UUID id and a Paywint link), against about 190
 * as JSON.
 */
export function encodeResult(r: RowResult): string {
  const id = r.paymentId ? packId(r.paymentId) : '';
  const link = r.paymentLink ? (r.paymentId ? packLink(r.paymentLink, r.paymentId) : `=${r.paymentLink}`) : '';
  const fields = [`${STATUS_CODES[r.status]}${r.attempts}`, id, link, r.errorCode ?? '', r.errorMessage ?? ''];
  while (fields.length > 1 && fields.at(-1) === '') fields.pop();
  return joinFields(fields);
}

export function decodeResult(raw: string): RowResult {
  const [head = '', id = '', link = '', code = '', message = ''] = splitFields(raw);
  const status = STATUS_BY_CODE.get(head.charAt(0));
  if (!status) throw new Error(`not a stored result: ${JSON.stringify(raw.slice(0, 80))}`);
  const paymentId = id === '' ? null : unpackId(id);
  return {
    status,
    paymentId,
    paymentLink: link === '' ? null : unpackLink(link, paymentId ?? ''),
    errorCode: code === '' ? null : code,
    errorMessage: message === '' ? null : message,
    attempts: Number(head.slice(1)),
  };
}

/**
 * An input record as stored: its line (left empty when it is the usual one,
 * the row's index + 2: the header is line 1), then its cells.
 */
function encodeRecord(row: number, line: number, cells: readonly string[]): string {
  return joinFields([line === row + 2 ? '' : String(line), ...cells]);
}

function decodeRecord(row: number, raw: string): { line: number; cells: string[] } {
  const [line = '', ...cells] = splitFields(raw);
  return { line: line === '' ? row + 2 : Number(line), cells };
}

/**
 * Lua: expireBatch(batchKey, rowsKey, resultsKey, nowMs) stamps when a finished or stopped batch's records and
 * results go (its retention after now) and sets their expiry; the batch hash stays, to say so.
 */
const EXPIRE_LUA = `
local function expireBatch(batchKey, rowsKey, resultsKey, nowMs)
  local retention = tonumber(redis.call('HGET', batchKey, 'retention_ms') or '')
  if not retention then return end
  local at = nowMs + retention
  redis.call('HSET', batchKey, 'expires_at_ms', string.format('%.0f', at))
  redis.call('PEXPIREAT', rowsKey, at)
  redis.call('PEXPIREAT', resultsKey, at)
end
`;

/**
 * Lua: recordFinish(batchKey, eventsKey, nowMs) records the batch's finish event (`<batch>-f<n>`, n counting its
 * finishes: a retried batch finishes again), once per finish: the `finish_event` field says this finish has its
 * event, whichever process saw it first; taking rows back (a retry) clears it.
 */
const FINISH_EVENT_LUA = `
local function recordFinish(batchKey, eventsKey, nowMs)
  if redis.call('HEXISTS', batchKey, 'finish_event') == 1 then return 0 end
  local n = redis.call('HINCRBY', batchKey, 'finishes', 1)
  redis.call('HSET', batchKey, 'finish_event', n)
  redis.call('ZADD', eventsKey, nowMs, redis.call('HGET', batchKey, 'id') .. '-f' .. n)
  return 1
end
`;

/**
 * Records the final results of a group of rows of one batch, each once: the
 * result, the batch counters, the ledger entry of a created link and the
 * release of the claim (keeping any unknown outcomes for the invoice's next
 * claim), in one atomic step. A row recorded before changes nothing (its
 * reply is 0), except that a second link (two runs of one row at once, after
 * a lost lock) is never dropped: it goes to the ledger if the invoice has
 * none there, and the recorded row is flagged with both links.
 *
 * The rows that finish the batch (its last results) also record its finish
 * event in the same step, for the notifications to pick up (see
 * FINISH_EVENT_LUA; a stopped batch's finish is recorded by whoever sees its
 * last row accounted for, see {@link BatchStore.get}).
 *
 * KEYS: results, batch, ledger, claims, unsettled, rows, finish events.
 * ARGV: now ISO, now ms; then per row 8: row, stored result, status, invoice, claim owner, stored ledger entry,
 * amount cents, the link as the note about a second one shows it ('' when none).
 */
const FINISH_ROWS = new LuaScript(`${RELEASE_CLAIM_LUA}${FIELDS_LUA}${EXPIRE_LUA}${FINISH_EVENT_LUA}
local out = {}
local added = 0
local claimed = false
-- The batch's counters, added up over the group and written once each.
local counts = {}
local function count(field, n) counts[field] = (counts[field] or 0) + n end
for i = 3, #ARGV, 8 do
  local row, result, status, invoice, owner, entry, cents, shown = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local linked = entry ~= ''
  if redis.call('HSETNX', KEYS[1], row, result) == 0 then
    local recorded = redis.call('HGET', KEYS[1], row)
    if linked then
      local r = fields(recorded)
      -- The packed payment id leads both the stored result's fields (after the status) and the entry's.
      if r[2] ~= fields(entry)[1] then
        redis.call('HSETNX', KEYS[3], invoice, entry)
        local note = 'another run of this row also created link ' .. shown .. ': Paywint holds two links for this invoice; cancel one before mailing'
        if r[5] and r[5] ~= '' then note = r[5] .. '; ' .. note end
        r[4] = '${POSSIBLE_DUPLICATE_CODE}'
        r[5] = note
        redis.call('HSET', KEYS[1], row, joinFields(r, 5))
      end
    end
    if owner ~= '' then releaseClaim(KEYS[4], KEYS[5], invoice, owner, linked) end
    out[#out + 1] = 0
  else
    count('n_' .. status, 1)
    added = added + 1
    if linked then redis.call('HSET', KEYS[3], invoice, entry) end
    if status == 'created' or status == 'exists' then count('cents_' .. status, tonumber(cents)) end
    if owner ~= '' then
      releaseClaim(KEYS[4], KEYS[5], invoice, owner, linked)
      claimed = true
    end
    out[#out + 1] = 1
  end
end
if added == 0 then return out end
for field, n in pairs(counts) do redis.call('HINCRBY', KEYS[2], field, string.format('%.0f', n)) end
local done = redis.call('HINCRBY', KEYS[2], 'done', added)
local state = redis.call('HGET', KEYS[2], 'state')
-- Only a fully submitted batch starts running: one still being submitted stays \`submitting\`, so a
-- submission that fails or dies half-way is still seen as such (and never resumed as if whole).
if claimed and state == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running', 'started_at', ARGV[1])
  state = 'running'
end
if done >= tonumber(redis.call('HGET', KEYS[2], 'rows')) then
  if state ~= 'cancelled' and state ~= 'failed' then
    local good = tonumber(redis.call('HGET', KEYS[2], 'n_created') or '0') + tonumber(redis.call('HGET', KEYS[2], 'n_exists') or '0')
    local final = 'completed_with_errors'
    if good == done then final = 'completed' end
    redis.call('HSET', KEYS[2], 'state', final)
    state = final
  end
  redis.call('HSET', KEYS[2], 'finished_at', ARGV[1])
  recordFinish(KEYS[2], KEYS[7], tonumber(ARGV[2]))
  if state ~= 'submitting' then expireBatch(KEYS[2], KEYS[6], KEYS[1], tonumber(ARGV[2])) end
else
  -- Rows recorded after the batch stopped expire with the rest.
  local at = redis.call('HGET', KEYS[2], 'expires_at_ms')
  if at then redis.call('PEXPIREAT', KEYS[1], at) end
end
return out
`);

// KEYS: batch, finish events. ARGV: now ms. Records the finish event of a stopped batch (cancelled or failed) whose
// rows are all accounted for, once (see FINISH_EVENT_LUA); nothing when it runs again meanwhile (a retry).
const STOPPED_FINISH = new LuaScript(`${FINISH_EVENT_LUA}
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'cancelled' and state ~= 'failed' then return 0 end
return recordFinish(KEYS[1], KEYS[2], tonumber(ARGV[1]))
`);

// KEYS: batch, rows, results. ARGV: from-states (comma list), to-state, field to stamp, now ISO, stop code, stop
// message, now ms. A batch that stops is finished: its data expires after its retention.
const TRANSITION = new LuaScript(`${EXPIRE_LUA}
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == state then
    redis.call('HSET', KEYS[1], 'state', ARGV[2])
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
    if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'stop_code', ARGV[5], 'stop_message', ARGV[6]) end
    if ARGV[2] == 'cancelled' or ARGV[2] == 'failed' then
      redis.call('HSETNX', KEYS[1], 'finished_at', ARGV[4])
      expireBatch(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[7]))
    end
    return ARGV[2]
  end
end
return state
`);

/**
 * Takes failed rows' results back so they can run again: the counters go
 * down; a finished batch is running again (ARGV[1] '1': also a stopped one,
 * whose rows without a result run again), and its data no longer expires.
 * KEYS: results, batch, rows. ARGV: resume a stopped batch ('1' or ''), then rows. Returns the rows taken back.
 */
const REOPEN_ROWS = new LuaScript(`${FIELDS_LUA}
local reopened = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and string.sub(fields(raw)[1], 1, 1) == 'f' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    reopened[#reopened + 1] = ARGV[i]
  end
end
if #reopened > 0 then
  redis.call('HINCRBY', KEYS[2], 'n_failed', -#reopened)
  redis.call('HINCRBY', KEYS[2], 'done', -#reopened)
  -- Not finished any more: its next finish gets an event of its own.
  redis.call('HDEL', KEYS[2], 'finish_event')
end
local state = redis.call('HGET', KEYS[2], 'state')
if (#reopened > 0 or ARGV[1] == '1') and (state == 'completed' or state == 'completed_with_errors' or state == 'failed') then
  redis.call('HSET', KEYS[2], 'state', 'running')
  redis.call('HDEL', KEYS[2], 'finished_at', 'stop_code', 'stop_message', 'stopped_at', 'expires_at_ms', 'finish_event')
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[3])
end
return reopened
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

/**
 * The BullMQ job id of the job for rows `[from, to)` of a batch; `tag` tells
 * apart later jobs for the same rows (a row's own retry, a `paylinks retry`).
 */
export function rowsJobId(batchId: string, from: number, to: number, tag?: string): string {
  return tag === undefined ? `${batchId}-${from}-${to}` : `${batchId}-${from}-${to}-${tag}`;
}

/** The rows `[from, to)` of a job of the batch, from its id (undefined for a job of another batch). */
export function rowsOfJobId(batchId: string, jobId: string): { from: number; to: number } | undefined {
  if (!jobId.startsWith(`${batchId}-`)) return undefined;
  const m = /^(\d+)-(\d+)(?:-|$)/.exec(jobId.slice(batchId.length + 1));
  return m ? { from: Number(m[1]), to: Number(m[2]) } : undefined;
}

/** The link a note about a second link shows: `id (link)`. */
function shownLink(entry: Pick<LedgerEntry, 'paymentId' | 'paymentLink'>): string {
  return `${entry.paymentId} (${entry.paymentLink})`;
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
}

const DAY_MS = 86_400_000;

export interface BatchStoreOptions {
  /** How long a finished batch's records and results are kept, ms (written into each new batch). Default 30 days. */
  retentionMs?: number;
}

export class BatchStore {
  private readonly retentionMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    options: BatchStoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? 30 * DAY_MS;
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
    if ((h.state === 'cancelled' || h.state === 'failed') && h.submitted_at && Number(h.done ?? 0) < Number(h.rows ?? 0)) {
      // Rows of a stopped batch without a result will not be sent, except those still in flight. Counted
      // before the counters are read again: a row that ends in between is counted twice, never missed.
      const inFlight = await this.rowsInFlight(id, h.account ?? '');
      h = await this.redis.hgetall(this.keys.batch(id));
      unsent = Math.max(0, Number(h.rows ?? 0) - Number(h.done ?? 0) - inFlight);
      // Every row accounted for: the stopped batch has finished. Whoever sees it first records its finish event.
      if (inFlight === 0 && h.finish_event === undefined) await this.recordFinish(id);
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
      holdExpiresAt: h.state === 'held' ? str('hold_expires_at') : null,
      stopCode: str('stop_code'),
      stopMessage: str('stop_message'),
      expiresAt: h.expires_at_ms ? new Date(Number(h.expires_at_ms)).toISOString() : null,
      unsent,
    };
  }

  /**
   * Rows of a stopped batch that may still be in flight: those whose invoice
   * is claimed by one of the batch's active jobs. (A row of an active job not
   * claimed yet will find the batch stopped and never be sent.)
   */
  async rowsInFlight(id: string, account: string): Promise<number> {
    const active = new Set((await this.redis.lrange(this.keys.queueActive(), 0, -1)).filter((jobId) => rowsOfJobId(id, jobId) !== undefined));
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

  /** Records a row's final result (see FINISH_ROWS). Resolves false when it was recorded before. */
  async finishRow(id: string, row: number, result: RowResult, options: FinishRowOptions = {}): Promise<boolean> {
    const ledger = options.ledgerKey && options.claimsKey && options.unsettledKey ? { ledgerKey: options.ledgerKey, claimsKey: options.claimsKey, unsettledKey: options.unsettledKey } : undefined;
    const [recorded] = await this.finishRows(id, [{ row, result, invoiceNumber: options.invoiceNumber, claimOwner: options.claimOwner, ledgerEntry: options.ledgerEntry, amountCents: options.amountCents }], ledger);
    return recorded!;
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
    const keys = [this.keys.batchResults(id), batchKey, ledger?.ledgerKey ?? batchKey, ledger?.claimsKey ?? batchKey, ledger?.unsettledKey ?? batchKey, this.keys.batchRows(id), this.keys.finishEvents()];
    const now = new Date();
    const args: (string | number)[] = [now.toISOString(), now.getTime()];
    for (const r of rows) {
      const entry = r.ledgerEntry;
      args.push(
        r.row,
        encodeResult(r.result),
        r.result.status,
        r.invoiceNumber ?? '',
        ledger ? (r.claimOwner ?? '') : '',
        entry ? encodeLedgerEntry(entry) : '',
        r.amountCents ?? 0,
        entry ? shownLink(entry) : '',
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
    await this.transition(id, ['submitting'], 'queued');
  }

  /**
   * Records the finish event of a stopped batch (cancelled or failed) once
   * (nothing when it has one, or runs again): for a batch whose submission
   * failed half-way, and for one whose remaining rows are all accounted for
   * by its state ({@link get} calls it when it sees that).
   */
  async recordFinish(id: string): Promise<void> {
    await STOPPED_FINISH.run(this.redis, [this.keys.batch(id), this.keys.finishEvents()], [Date.now()]);
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
    const now = new Date();
    const state = await TRANSITION.run(
      this.redis,
      [this.keys.batch(id), this.keys.batchRows(id), this.keys.batchResults(id)],
      [from.join(','), to, stamp, now.toISOString(), stop?.code ?? '', stop?.message ?? '', now.getTime()],
    );
    return (state ?? undefined) as BatchState | undefined;
  }
}
