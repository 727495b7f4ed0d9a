/**
 * The idempotency ledger: one per Paywint account (keyed by the API key,
 * never the secret), recording every link paylinks created, by invoice: its
 * field is the invoice's key ({@link ledgerField}: trimmed, NFC, upper case,
 * so `inv-7` in a later file finds `INV-7`'s link), its entry keeps the
 * number as written. Claims and unsettled counts use the same field.
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
import { RELEASE_CLAIM_LUA, UNSETTLED_LUA } from './scripts/includes/release-claim.js';
import type { Keys } from './keys.js';
import { invoiceKey } from '../core/invoice-key.js';
import { paymentIndexKeys, type PaymentIndexKeys } from './payment-status/encoding.js';
import { joinFields, packBatchId, packId, packInt, packLink, splitFields, unpackBatchId, unpackId, unpackInt, unpackLink } from './compact.js';

const LedgerEntrySchema = z.object({
  paymentId: z.string(),
  paymentLink: z.string(),
  amountCents: z.number().int(),
  description: z.string().nullable(),
  batchId: z.string(),
  row: z.number().int(),
  createdAt: z.string(),
  /** The invoice number as written when the link was made, when it is not its ledger field (e.g. `inv-7` under `INV-7`). */
  invoiceNumber: z.string().optional(),
});

/** A link paylinks created (or was told of), as the ledger keeps it for its invoice. */
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

/**
 * The ledger's field for an invoice number (and the claims' and unsettled
 * counts'): its key (src/core/invoice-key.ts), so that the numbers a person
 * reads as one invoice share one link. Every reader and writer of the ledger
 * by invoice goes through it.
 */
export function ledgerField(invoiceNumber: string): string {
  return invoiceKey(invoiceNumber);
}

/** The invoice number of an entry as written, given the field it is under. */
export function writtenInvoiceNumber(field: string, entry: Pick<LedgerEntry, 'invoiceNumber'>): string {
  return entry.invoiceNumber ?? field;
}

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
 * epoch), batch id, row (numbers in base 36), the description (left out when
 * there is none and nothing follows), then the invoice number as written,
 * only when it is not its ledger field (most numbers are written as their
 * key: nothing more is stored for them). About 90 characters for a UUID id,
 * a Paywint link and a 20-character description, against about 250 as JSON.
 */
export function encodeLedgerEntry(entry: LedgerEntry): string {
  const fields = [packId(entry.paymentId), packLink(entry.paymentLink, entry.paymentId), packInt(entry.amountCents), packInt(msOf(entry.createdAt)), packBatchId(entry.batchId), packInt(entry.row)];
  const written = entry.invoiceNumber !== undefined && entry.invoiceNumber !== ledgerField(entry.invoiceNumber) ? entry.invoiceNumber : undefined;
  if (entry.description !== null || written !== undefined) fields.push(entry.description ?? '');
  if (written !== undefined) fields.push(written);
  return joinFields(fields);
}

/** Reads an entry written by {@link encodeLedgerEntry}, or by paylinks before it (JSON with field names). */
export function decodeLedgerEntry(raw: string): LedgerEntry {
  if (raw.startsWith('{')) return LedgerEntrySchema.parse(JSON.parse(raw));
  const [id, link, amount, createdAt, batchId, row, description, written] = splitFields(raw);
  if (row === undefined) throw new Error(`not a ledger entry: ${JSON.stringify(raw.slice(0, 80))}`);
  const paymentId = unpackId(id!);
  const entry: LedgerEntry = {
    paymentId,
    paymentLink: unpackLink(link!, paymentId),
    amountCents: unpackInt(amount!),
    // Written before the invoice number followed it, an empty description was left out: '' reads as none.
    description: description === undefined || (description === '' && written !== undefined) ? null : description,
    batchId: unpackBatchId(batchId!),
    row: unpackInt(row),
    createdAt: new Date(unpackInt(createdAt!)).toISOString(),
  };
  if (written !== undefined) entry.invoiceNumber = written;
  return entry;
}

/** An invoice number and its entry, as {@link scanLedger} yields them. */
export interface LedgerRecord {
  /** As written (see {@link writtenInvoiceNumber}). */
  invoiceNumber: string;
  /** The ledger field it is under. */
  field: string;
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
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const entry = decodeLedgerEntry(flat[i + 1]!);
      page.push({ invoiceNumber: writtenInvoiceNumber(flat[i]!, entry), field: flat[i]!, entry });
    }
    if (page.length > 0) yield page;
  } while (cursor !== '0');
}

/** Who may call Paywint for an invoice, and what happened so far (kept as JSON while the row is in flight; only the scripts below write it). */
export interface Claim {
  /** The BullMQ job holding the claim. */
  owner: string;
  /** Requests sent for this invoice, across every holder. */
  attempts: number;
  /** Requests whose outcome is unknown: Paywint may have created a link (across claims: see the unsettled hash). */
  unknown: number;
  /**
   * The count of unknown outcomes a person accepted (`retry --include-unknown`): the invoice may be sent
   * while `unknown` is no higher, besides the automatic PAYLINKS_UNKNOWN_OUTCOME_RETRIES.
   */
  accepted?: number;
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

/**
 * Lua: `maySend(unknown, c, cap)`: whether a claim whose requests had `unknown` unknown outcomes may send
 * another: within the automatic retries after an unknown outcome (`cap`, PAYLINKS_UNKNOWN_OUTCOME_RETRIES), or
 * no more than a person accepted. `beginOn` marks claim `c` of `invoice` as sending attempt `attempt` (an
 * unsettled earlier one becomes unknown).
 */
const BEGIN_LUA = `
local function maySend(unknown, c, cap)
  return unknown <= cap or unknown <= (c.accepted or 0)
end
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
// the account (API key) of the caller, the automatic sends allowed after an unknown outcome; then for each row:
// invoice, owner, row, and the id of the first attempt to begin in the same step when its rate-limit slot is due now
// ('' to only claim). Returns kind and value for each row.
// A fresh claim starts from the invoice's unsettled entry (unknown outcomes of earlier claims, across batches); one
// that may send no more (see maySend) is claimed without beginning: the caller records the row UNKNOWN_OUTCOME.
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
local interval, window, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
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
  local unknown, accepted = readUnsettled(KEYS[6], invoice)
  local fresh = {owner = owner, attempts = 0, unknown = unknown, inFlight = 0, firstAt = 0}
  if accepted > 0 then fresh.accepted = accepted end
  -- A slot is free now: take it and begin the attempt.
  if attempt ~= '' and maySend(unknown, fresh, cap) and takeSlotNow(KEYS[5], interval, window) then
    beginOn(KEYS[2], invoice, fresh, tonumber(ARGV[1]), attempt)
    -- The caller knows the rest of a claim begun now: only its counts of unknown outcomes go back.
    return 'begun', string.format('%d:%d', fresh.unknown, accepted)
  end
  claim = cjson.encode(fresh)
  redis.call('HSET', KEYS[2], invoice, claim)
  return 'claimed', claim
end
for i = 6, #ARGV, 4 do
  local kind, value = claimOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  out[#out + 1] = kind
  out[#out + 1] = value
end
return out
`);

// KEYS: claims, rate schedule. ARGV: invoice, owner, nowMs, slot interval µs, attempt id, the slot reserved
// earlier (µs on Redis's clock; '' for none), rate window µs, the automatic sends allowed after an unknown
// outcome. A claim that may send no more (see maySend) is answered 'capped', nothing reserved or begun.
// A request is about to be sent: take its rate-limit slot (takeSlot: reserved, then due, not inside a pause, room
// in the window); when it may go now, begin the attempt in the same step, else return the wait and the slot (the
// caller waits and calls again with that slot).
const BEGIN_ATTEMPT = new LuaScript(`${RATE_SLOT_LUA}${BEGIN_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local c = cjson.decode(raw)
if c.owner ~= ARGV[2] then return false end
-- The same call again (ioredis resends a command whose answer a Redis restart swallowed): already begun.
if c.inFlight == 1 and c.attempt == ARGV[5] then return {'begun', raw} end
if not maySend(c.unknown + c.inFlight, c, tonumber(ARGV[8])) then
  if c.inFlight == 1 then
    -- An earlier request never settled: its outcome is unknown.
    c.unknown = c.unknown + 1
    c.inFlight = 0
    raw = cjson.encode(c)
    redis.call('HSET', KEYS[1], ARGV[1], raw)
  end
  return {'capped', raw}
end
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

// KEYS: claims, unsettled. ARGV: invoices. A person accepts the unknown outcomes each invoice had so far
// (`retry --include-unknown`): it may be sent once more, and no more once that request's outcome is unknown too.
// Returns how many invoices had unknown outcomes to accept.
const ACCEPT_UNKNOWN = new LuaScript(`${UNSETTLED_LUA}
local n = 0
for i = 1, #ARGV do
  local unknown, accepted = readUnsettled(KEYS[2], ARGV[i])
  if unknown > 0 then
    n = n + 1
    if unknown > accepted then writeUnsettled(KEYS[2], ARGV[i], unknown, unknown) end
  end
  -- A claim held now started from that count (or has its own): it may send once more too.
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local c = cjson.decode(raw)
    if c.unknown > (c.accepted or 0) then
      c.accepted = c.unknown
      redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(c))
    end
  end
end
return n
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

/** Whether a claim may send another request (see BEGIN_LUA's maySend): the same rule, for a claim in hand. */
export function maySend(claim: Pick<Claim, 'unknown' | 'accepted'>, unknownOutcomeRetries: number): boolean {
  return claim.unknown <= unknownOutcomeRetries || claim.unknown <= (claim.accepted ?? 0);
}

export interface LedgerOptions {
  /**
   * Requests sent for an invoice after one whose outcome is unknown, at most, without a person's say-so
   * (`PAYLINKS_UNKNOWN_OUTCOME_RETRIES`). Default 1.
   */
  unknownOutcomeRetries?: number;
}

/** What {@link Ledger.beginAttempt} found: the attempt begun, or the claim that may send no more (`capped`). */
export type BeginOutcome = { kind: 'begun'; claim: Claim; waitedMs: number; attempt: string } | { kind: 'capped'; claim: Claim };

export class Ledger {
  readonly ledgerKey: string;
  readonly claimsKey: string;
  readonly unsettledKey: string;
  readonly unknownOutcomeRetries: number;
  /** The account's payment index: links written to the ledger are indexed in the same step (BatchStore.finishRows). */
  readonly paymentIndex: PaymentIndexKeys;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    /** The Paywint account: its API key (an identifier, not a secret). */
    readonly apiKey: string,
    options: LedgerOptions = {},
  ) {
    this.ledgerKey = keys.ledger(apiKey);
    this.claimsKey = keys.claims(apiKey);
    this.unsettledKey = keys.unsettled(apiKey);
    this.unknownOutcomeRetries = options.unknownOutcomeRetries ?? 1;
    this.paymentIndex = paymentIndexKeys(keys, apiKey);
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
    const args: (string | number)[] = limiter ? [nowMs, limiter.intervalUs, limiter.windowUs, this.apiKey, this.unknownOutcomeRetries] : ['', '', '', this.apiKey, this.unknownOutcomeRetries];
    requests.forEach((r, i) => args.push(ledgerField(r.invoiceNumber), r.owner, r.row, attempts[i]!));
    const keys = [this.ledgerKey, this.claimsKey, batch.resultsKey, batch.batchKey, limiter?.key ?? batch.batchKey, this.unsettledKey];
    const reply = (await CLAIM_ROWS.run(this.redis, keys, args)) as string[];
    return requests.map((r, i): ClaimOutcome => {
      const kind = reply[2 * i]!;
      const raw = reply[2 * i + 1]!;
      if (kind === 'recorded' || kind === 'no-batch' || kind === 'stopped') return { kind };
      if (kind === 'other-account') return { kind, account: raw };
      if (kind === 'begun') {
        // As BEGIN_LUA wrote it: a fresh claim, its first request begun now.
        const [unknown, accepted] = raw.split(':').map(Number);
        const claim: Claim = { owner: r.owner, attempts: 1, unknown: unknown ?? 0, inFlight: 1, firstAt: nowMs, attempt: attempts[i] };
        if (accepted) claim.accepted = accepted;
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
   * waits for the slot first. `capped` when the invoice may be sent no more
   * (see {@link maySend}): nothing is reserved. Undefined if `owner` no
   * longer holds the claim.
   */
  async beginAttempt(invoiceNumber: string, owner: string, limiter: RateLimiter, signal?: AbortSignal): Promise<BeginOutcome | undefined> {
    const keys = [this.claimsKey, limiter.key];
    const attempt = randomUUID();
    const args = (slot: string) => [ledgerField(invoiceNumber), owner, Date.now(), limiter.intervalUs, attempt, slot, limiter.windowUs, this.unknownOutcomeRetries];
    let reply = (await BEGIN_ATTEMPT.run(this.redis, keys, args(''))) as [string, string, string?] | null;
    let waitedMs = 0;
    while (reply && reply[0] === 'wait') {
      // Whole milliseconds, rounded up: the slot is never taken early.
      const ms = Math.ceil(Number(reply[1]) / 1000);
      waitedMs += ms;
      await sleep(ms, undefined, { signal });
      reply = (await BEGIN_ATTEMPT.run(this.redis, keys, args(reply[2] ?? ''))) as [string, string, string?] | null;
    }
    const claim = reply ? parseClaim(reply[1]) : undefined;
    if (!claim) return undefined;
    return reply![0] === 'capped' ? { kind: 'capped', claim } : { kind: 'begun', claim, waitedMs, attempt };
  }

  /**
   * Records that a request ended without a link: `unknown` when Paywint may
   * have made one anyway; `rate-limited` (a 429) gives the attempt back.
   */
  async endAttempt(invoiceNumber: string, owner: string, attempt: string, outcome: AttemptOutcome, error?: { code: string; message: string }): Promise<Claim | undefined> {
    return parseClaim(await END_ATTEMPT.run(this.redis, [this.claimsKey], [ledgerField(invoiceNumber), owner, outcome, error?.code ?? '', error?.message ?? '', attempt]));
  }

  /**
   * A person's say-so (`retry --include-unknown`): each invoice whose
   * requests' outcomes were unknown too often may be sent once more.
   * Resolves with how many of them had unknown outcomes.
   */
  async acceptUnknownOutcomes(invoiceNumbers: readonly string[]): Promise<number> {
    if (invoiceNumbers.length === 0) return 0;
    return Number(await ACCEPT_UNKNOWN.run(this.redis, [this.claimsKey, this.unsettledKey], invoiceNumbers.map(ledgerField)));
  }

  /** Moves a claim whose holder is gone to `newOwner`, keeping its counts. */
  async takeOver(invoiceNumber: string, expectedOwner: string, newOwner: string): Promise<Claim | undefined> {
    return parseClaim(await TAKE_OVER.run(this.redis, [this.claimsKey], [ledgerField(invoiceNumber), expectedOwner, newOwner]));
  }
}
