/**
 * The idempotency ledger: one per Paywint account (keyed by the API key,
 * never the secret), recording every link paylinks created, by invoice number.
 *
 * Before calling Paywint a job claims the invoice. The claim is atomic (one
 * Lua script), so two jobs of one batch, or of two batches running at once,
 * never both call Paywint for the same invoice. A claim also counts the
 * requests sent for it and remembers one that was sent but never settled
 * (a crash, a timeout, a cut connection): such an outcome is unknown, since
 * Paywint may have created a link, and the row says so.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { LuaScript, type RedisClient } from '../core/lua.js';
import { RATE_SLOT_LUA, type RateLimiter } from './rate-limiter.js';
import { RELEASE_CLAIM_LUA } from './scripts/includes/release-claim.js';
import type { Keys } from './keys.js';
import { joinFields, packBatchId, packId, packInt, packLink, splitFields, unpackBatchId, unpackId, unpackInt, unpackLink } from './compact.js';

const LedgerEntrySchema = z.object({
  paymentId: z.string(),
  paymentLink: z.string(),
  amountCents: z.number().int(),
  description: z.string().nullable(),
  batchId: z.string(),
  row: z.number().int(),
  createdAt: z.string(),
});

/** A link paylinks created (or was told of), as the ledger keeps it for its invoice. */
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

/*
 * The stored form of a ledger entry: the value under its invoice number in
 * the ledger hash. Everything in TypeScript that writes or reads entries goes
 * through encodeLedgerEntry, decodeLedgerEntry and scanLedger; the scripts
 * find its fields through LEDGER_ENTRY_FIELDS_LUA.
 */

/** Lua include: where the fields of a stored ledger entry are (see {@link encodeLedgerEntry}). */
export const LEDGER_ENTRY_FIELDS_LUA = `
local ENTRY_PAYMENT_ID = 1
`;

/** The last time read by {@link msOf}: entries recorded together share their time. */
let lastTime = { iso: '', ms: 0 };
function msOf(iso: string): number {
  if (iso !== lastTime.iso) lastTime = { iso, ms: Date.parse(iso) };
  return lastTime.ms;
}

/**
 * The ledger's stored form of an entry: fixed fields in a fixed order (see
 * compact.ts): payment id, link, amount in cents, created at (ms since the
 * epoch), batch id, row (numbers in base 36), and the description last, left
 * out when there is none. About 90 characters for a UUID id, a Paywint link
 * and a 20-character description, against about 250 as JSON.
 */
export function encodeLedgerEntry(entry: LedgerEntry): string {
  const fields = [packId(entry.paymentId), packLink(entry.paymentLink, entry.paymentId), packInt(entry.amountCents), packInt(msOf(entry.createdAt)), packBatchId(entry.batchId), packInt(entry.row)];
  if (entry.description !== null) fields.push(entry.description);
  return joinFields(fields);
}

/** Reads an entry written by {@link encodeLedgerEntry}, or by paylinks before it (JSON with field names). */
export function decodeLedgerEntry(raw: string): LedgerEntry {
  if (raw.startsWith('{')) return LedgerEntrySchema.parse(JSON.parse(raw));
  const [id, link, amount, createdAt, batchId, row, ...rest] = splitFields(raw);
  if (row === undefined) throw new Error(`not a ledger entry: ${JSON.stringify(raw.slice(0, 80))}`);
  const paymentId = unpackId(id!);
  return {
    paymentId,
    paymentLink: unpackLink(link!, paymentId),
    amountCents: unpackInt(amount!),
    description: rest.length > 0 ? rest.join('') : null,
    batchId: unpackBatchId(batchId!),
    row: unpackInt(row),
    createdAt: new Date(unpackInt(createdAt!)).toISOString(),
  };
}

/** An invoice number and its entry, as {@link scanLedger} yields them. */
export interface LedgerRecord {
  invoiceNumber: string;
  entry: LedgerEntry;
}

/**
 * Every entry of a ledger hash, a page at a time (HSCAN, about `count`
 * entries a call): never the whole hash in memory. In no particular order;
 * as HSCAN does, an entry may come twice when the hash grows during the scan.
 */
export async function* scanLedger(redis: RedisClient, ledgerKey: string, count = 1000): AsyncGenerator<LedgerRecord[]> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(ledgerKey, cursor, 'COUNT', count);
    cursor = next;
    const page: LedgerRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) page.push({ invoiceNumber: flat[i]!, entry: decodeLedgerEntry(flat[i + 1]!) });
    if (page.length > 0) yield page;
  } while (cursor !== '0');
}

/** Who may call Paywint for an invoice, and what happened so far (kept as JSON while the row is in flight; only the scripts below write it). */
export interface Claim {
  /** The BullMQ job holding the claim. */
  owner: string;
  /** Requests sent for this invoice, across every holder. */
  attempts: number;
  /** Requests whose outcome is unknown: Paywint may have created a link. */
  unknown: number;
  /** 1 while a request is out; still 1 after a crash mid-request. */
  inFlight: number;
  /** When the first request was sent (ms since epoch); 0 before. */
  firstAt: number;
  /** Id of the last attempt begun, so that a replayed begin or end changes nothing. */
  attempt?: string;
  /** Code and message of the last request that ended without a link, if any. */
  lastCode?: string;
  lastMessage?: string;
}

/** The batch row a claim is made for. */
export interface RowRef {
  resultsKey: string;
  batchKey: string;
  row: number;
}

/** How a request ended without a link; `not-sent`: begun, then never sent (shutdown came first). */
export type AttemptOutcome = 'failed' | 'unknown' | 'rate-limited' | 'not-sent';

export type ClaimOutcome =
  /** The row has its result already (a re-run after a crash): nothing to do. */
  | { kind: 'recorded' }
  /** The row's batch is gone. */
  | { kind: 'no-batch' }
  /** The row's batch was cancelled or failed: the row is not sent. */
  | { kind: 'stopped' }
  /** The row's batch was submitted for another Paywint account (its API key): not sent. */
  | { kind: 'other-account'; account: string }
  /** `attempt`: the first request's attempt, already begun (its rate-limit slot was due now). */
  | { kind: 'claimed'; claim: Claim; attempt?: string }
  | { kind: 'exists'; entry: LedgerEntry }
  | { kind: 'conflict'; entry: LedgerEntry }
  | { kind: 'busy'; claim: Claim };

/** Lua: marks claim `c` of `invoice` as sending attempt `attempt` (an unsettled earlier one becomes unknown). */
const BEGIN_LUA = `
local function beginOn(claimsKey, invoice, c, nowMs, attempt)
  if c.inFlight == 1 then c.unknown = c.unknown + 1 end
  if c.firstAt == 0 then c.firstAt = nowMs end
  c.attempts = c.attempts + 1
  c.inFlight = 1
  c.attempt = attempt
  local raw = cjson.encode(c)
  redis.call('HSET', claimsKey, invoice, raw)
  return raw
end
`;

// KEYS: ledger, claims, row results, batch, rate schedule, unsettled. ARGV: nowMs, slot interval µs, rate window µs,
// the account (API key) of the caller; then for each row: invoice, owner, row, and the id of the first attempt to begin
// in the same step when its rate-limit slot is due now ('' to only claim). Returns kind and value for each row.
// The row's own checks come first, in the same step: already finished, its batch stopped (a claim it still holds is
// released: the batch's state accounts for the row), or submitted for another Paywint account (its links belong to
// that account's ledger, and this caller's credentials would make them elsewhere).
// A first attempt begins only when a rate-limit slot is free now (takeSlotNow: the schedule due, no pause, room in
// the window); the slots of one call are taken one after the other at one "now".
const CLAIM_ROWS = new LuaScript(`${RATE_SLOT_LUA}${BEGIN_LUA}${RELEASE_CLAIM_LUA}
local state = redis.call('HGET', KEYS[4], 'state')
local account = redis.call('HGET', KEYS[4], 'account')
local stopped = state == 'cancelled' or state == 'failed'
local out = {}
local interval, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local function claimOne(invoice, owner, row, attempt)
  if redis.call('HEXISTS', KEYS[3], row) == 1 then return 'recorded', '' end
  if not state then return 'no-batch', '' end
  if stopped then
    releaseClaim(KEYS[2], KEYS[6], invoice, owner, false)
    return 'stopped', state
  end
  if account and account ~= ARGV[4] then return 'other-account', account end
  local entry = redis.call('HGET', KEYS[1], invoice)
  if entry then return 'exists', entry end
  local claim = redis.call('HGET', KEYS[2], invoice)
  if claim then
    local c = cjson.decode(claim)
    if c.owner ~= owner then return 'busy', claim end
    if c.inFlight == 1 then
      -- This job's previous run sent a request and never settled it (it crashed or was killed).
      c.unknown = c.unknown + 1
      c.inFlight = 0
      claim = cjson.encode(c)
      redis.call('HSET', KEYS[2], invoice, claim)
    end
    return 'claimed', claim
  end
  -- Requests of earlier, released claims whose outcome is unknown: this claim's link will be flagged.
  local fresh = {owner = owner, attempts = 0, unknown = tonumber(redis.call('HGET', KEYS[6], invoice) or '0'), inFlight = 0, firstAt = 0}
  -- A slot is free now: take it and begin the attempt.
  if attempt ~= '' and takeSlotNow(KEYS[5], interval, window) then
    beginOn(KEYS[2], invoice, fresh, tonumber(ARGV[1]), attempt)
    -- The caller knows the rest of a claim begun now: only its count of unknown outcomes goes back.
    return 'begun', tostring(fresh.unknown)
  end
  claim = cjson.encode(fresh)
  redis.call('HSET', KEYS[2], invoice, claim)
  return 'claimed', claim
end
for i = 5, #ARGV, 4 do
  local kind, value = claimOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  out[#out + 1] = kind
  out[#out + 1] = value
end
return out
`);

// KEYS: claims, rate schedule. ARGV: invoice, owner, nowMs, slot interval µs, attempt id, the slot reserved
// earlier (µs on Redis's clock; '' for none), rate window µs. A request is about to be sent: take its rate-limit slot
// (takeSlot: reserved, then due, not inside a pause, room in the window); when it may go now, begin the attempt in
// the same step, else return the wait and the slot (the caller waits and calls again with that slot).
const BEGIN_ATTEMPT = new LuaScript(`${RATE_SLOT_LUA}${BEGIN_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local c = cjson.decode(raw)
if c.owner ~= ARGV[2] then return false end
-- The same call again (ioredis resends a command whose answer a Redis restart swallowed): already begun.
if c.inFlight == 1 and c.attempt == ARGV[5] then return {'begun', raw} end
local wait, slot = takeSlot(KEYS[2], tonumber(ARGV[6]), tonumber(ARGV[4]), tonumber(ARGV[7]))
if wait > 0 then return {'wait', string.format('%.0f', wait), string.format('%.0f', slot)} end
return {'begun', beginOn(KEYS[1], ARGV[1], c, tonumber(ARGV[3]), ARGV[5])}
`);

// KEYS: claims. ARGV: invoice, owner, outcome (failed | unknown | rate-limited | not-sent), error code, error message,
// attempt id. A request ended without a link; a 429 or a request never sent gives its attempt back.
const END_ATTEMPT = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local c = cjson.decode(raw)
if c.owner ~= ARGV[2] then return false end
-- Only the attempt in flight ends, once (a replayed call finds it ended already).
if c.inFlight == 0 or c.attempt ~= ARGV[6] then return raw end
c.inFlight = 0
if ARGV[3] == 'unknown' then c.unknown = c.unknown + 1 end
local given_back = ARGV[3] == 'rate-limited' or ARGV[3] == 'not-sent'
if given_back then c.attempts = c.attempts - 1 end
if c.attempts == 0 then c.firstAt = 0 end
if ARGV[4] and ARGV[4] ~= '' and not given_back then c.lastCode = ARGV[4] c.lastMessage = ARGV[5] end
raw = cjson.encode(c)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`);

// KEYS: claims. ARGV: invoice, expected owner, new owner. Takes over an orphaned claim.
const TAKE_OVER = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local c = cjson.decode(raw)
if c.owner ~= ARGV[2] then return false end
if c.inFlight == 1 then c.unknown = c.unknown + 1 end
c.inFlight = 0
c.owner = ARGV[3]
raw = cjson.encode(c)
redis.call('HSET', KEYS[1], ARGV[1], raw)
return raw
`);

/** A claim as the scripts wrote it (they are its only writers: no schema check on this hot path). */
function readClaim(raw: string): Claim {
  return JSON.parse(raw) as Claim;
}

function parseClaim(raw: unknown): Claim | undefined {
  return typeof raw === 'string' ? readClaim(raw) : undefined;
}

/** One row's claim request (see {@link Ledger.claimRows}). */
export interface ClaimRequest {
  invoiceNumber: string;
  /** The BullMQ job that will call Paywint for the invoice. */
  owner: string;
  amountCents: number;
  description: string | null;
  row: number;
  /** Begin the first attempt in the same step when its rate-limit slot is due now. */
  begin: boolean;
}

/** Whether a stored link matches a row: same amount, same description (empty and none are the same). */
export function sameInvoice(entry: Pick<LedgerEntry, 'amountCents' | 'description'>, amountCents: number, description: string | null): boolean {
  return entry.amountCents === amountCents && (entry.description ?? '') === (description ?? '');
}

export class Ledger {
  readonly ledgerKey: string;
  readonly claimsKey: string;
  readonly unsettledKey: string;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    /** The Paywint account: its API key (an identifier, not a secret). */
    readonly apiKey: string,
  ) {
    this.ledgerKey = keys.ledger(apiKey);
    this.claimsKey = keys.claims(apiKey);
    this.unsettledKey = keys.unsettled(apiKey);
  }

  /**
   * Claims the invoices of rows of one batch, in one script call: each for
   * its `owner`, unless a link exists already (same amount and description:
   * `exists`; different: `conflict`) or another job holds it (`busy`).
   * Claiming again as the same owner returns the claim as it stands. In the
   * same step, checks the row: `recorded` when it has its result, `stopped`
   * when its batch was stopped. Given the rate limiter, a fresh claim whose
   * rate-limit slot is due now also begins its first attempt (one round trip
   * for the common case).
   */
  async claimRows(batch: Omit<RowRef, 'row'>, requests: readonly ClaimRequest[], limiter?: RateLimiter): Promise<ClaimOutcome[]> {
    const attempts = requests.map((r) => (limiter && r.begin ? randomUUID() : ''));
    const nowMs = Date.now();
    const args: (string | number)[] = limiter ? [nowMs, limiter.intervalUs, limiter.windowUs, this.apiKey] : ['', '', '', this.apiKey];
    requests.forEach((r, i) => args.push(r.invoiceNumber, r.owner, r.row, attempts[i]!));
    const keys = [this.ledgerKey, this.claimsKey, batch.resultsKey, batch.batchKey, limiter?.key ?? batch.batchKey, this.unsettledKey];
    const reply = (await CLAIM_ROWS.run(this.redis, keys, args)) as string[];
    return requests.map((r, i): ClaimOutcome => {
      const kind = reply[2 * i]!;
      const raw = reply[2 * i + 1]!;
      if (kind === 'recorded' || kind === 'no-batch' || kind === 'stopped') return { kind };
      if (kind === 'other-account') return { kind, account: raw };
      if (kind === 'begun') {
        // As BEGIN_LUA wrote it: a fresh claim, its first request begun now.
        const claim: Claim = { owner: r.owner, attempts: 1, unknown: Number(raw), inFlight: 1, firstAt: nowMs, attempt: attempts[i] };
        return { kind: 'claimed', claim, attempt: attempts[i] };
      }
      if (kind === 'exists') {
        const entry = decodeLedgerEntry(raw);
        return sameInvoice(entry, r.amountCents, r.description) ? { kind: 'exists', entry } : { kind: 'conflict', entry };
      }
      return kind === 'busy' ? { kind: 'busy', claim: readClaim(raw) } : { kind: 'claimed', claim: readClaim(raw) };
    });
  }

  /**
   * Takes a slot of the shared rate limit and records that a request is
   * about to go out, in one round trip when the slot is due now; otherwise
   * waits for the slot first. Undefined if `owner` no longer holds the claim.
   */
  async beginAttempt(invoiceNumber: string, owner: string, limiter: RateLimiter, signal?: AbortSignal): Promise<{ claim: Claim; waitedMs: number; attempt: string } | undefined> {
    const keys = [this.claimsKey, limiter.key];
    const attempt = randomUUID();
    let reply = (await BEGIN_ATTEMPT.run(this.redis, keys, [invoiceNumber, owner, Date.now(), limiter.intervalUs, attempt, '', limiter.windowUs])) as [string, string, string?] | null;
    let waitedMs = 0;
    while (reply && reply[0] === 'wait') {
      // Whole milliseconds, rounded up: the slot is never taken early.
      const ms = Math.ceil(Number(reply[1]) / 1000);
      waitedMs += ms;
      await sleep(ms, undefined, { signal });
      reply = (await BEGIN_ATTEMPT.run(this.redis, keys, [invoiceNumber, owner, Date.now(), limiter.intervalUs, attempt, reply[2] ?? '', limiter.windowUs])) as [string, string, string?] | null;
    }
    const claim = reply ? parseClaim(reply[1]) : undefined;
    return claim && { claim, waitedMs, attempt };
  }

  /**
   * Records that a request ended without a link: `unknown` when Paywint may
   * have made one anyway; `rate-limited` (a 429) gives the attempt back.
   */
  async endAttempt(invoiceNumber: string, owner: string, attempt: string, outcome: AttemptOutcome, error?: { code: string; message: string }): Promise<Claim | undefined> {
    return parseClaim(await END_ATTEMPT.run(this.redis, [this.claimsKey], [invoiceNumber, owner, outcome, error?.code ?? '', error?.message ?? '', attempt]));
  }

  /** Moves a claim whose holder is gone to `newOwner`, keeping its counts. */
  async takeOver(invoiceNumber: string, expectedOwner: string, newOwner: string): Promise<Claim | undefined> {
    return parseClaim(await TAKE_OVER.run(this.redis, [this.claimsKey], [invoiceNumber, expectedOwner, newOwner]));
  }
}
