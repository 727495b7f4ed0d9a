/**
 * The message ledger (issue 19): per Paywint account, every message sent to
 * a customer, by invoice and kind (first, reminder 1 to 3), so that each is
 * sent at most once, whatever runs it: a retry, a job run again after its
 * worker was killed, two `paylinks send` at once, another batch with the
 * same invoice.
 *
 * As the link ledger does for links, a message is claimed before it is sent,
 * in one Lua step. Then, just before the message's last line (the SMTP
 * "." that makes the server take it) is written, the claim is *committed*,
 * again in one step that only the claim's own attempt can make. So:
 * - a run that died before committing never handed the message over (a mail
 *   server drops a message whose end never came): the next run sends it;
 * - a run that lost its claim to a newer run (its lock expired while it was
 *   alive) finds its commit refused and cuts the message short: only one run
 *   ever writes the final ".";
 * - a run that committed and then got no answer (killed, timed out, cut
 *   off) leaves the outcome unknown: it is flagged `unknown`, never sent
 *   again blindly. An answer that comes after all still records it.
 *
 * Stored in one hash per account, field `<kind digit><invoice key>`, values
 * a state letter and fixed fields (see compact.ts): `c`laimed and
 * `d` committed (by an attempt, at a time), `s`ent, `b`ounced (5xx, with the
 * server's reply), `f`ailed (temporary failures until the job gave up), `u`nknown,
 * `r` waiting for a retry, `x` skipped (a reminder to a paid or closed invoice).
 * Each batch counts the ends of its first messages (`mail_sent`,
 * `mail_bounced`, `mail_failed`, `mail_unknown` in its hash) and keeps its
 * bounces (`Keys.batchBounces`), for progress and the notification.
 */
import { invoiceKey } from '../core/invoice-key.js';
import { LuaScript, type RedisClient } from '../core/lua.js';
import { joinFields, packInt, splitFields, unpackInt } from './compact.js';
import type { Keys } from './keys.js';
import { MAIL_KINDS, type MailKind } from './mail-job.js';

/** The longest server reply kept with a bounce or a failure, in characters. */
export const MAX_REPLY_CHARS = 300;

export type MessageState = 'claimed' | 'committed' | 'sent' | 'bounced' | 'failed' | 'unknown' | 'retry' | 'skipped';

/** A message's record, as read. */
export interface MessageRecord {
  state: MessageState;
  /** When the state was reached (ms since the epoch); null for `skipped`. */
  atMs: number | null;
  /** The server's reply for `bounced`, `failed` and `retry`; why, for `skipped`. */
  detail: string | null;
}

const STATE_BY_LETTER: Record<string, MessageState> = { c: 'claimed', d: 'committed', s: 'sent', b: 'bounced', f: 'failed', u: 'unknown', r: 'retry', x: 'skipped' };

/** How a send ended, as {@link MailLedger.end} records it. */
export type SendEnd = 'sent' | 'bounced' | 'failed' | 'unknown' | 'retry';
const END_LETTER: Record<SendEnd, string> = { sent: 's', bounced: 'b', failed: 'f', unknown: 'u', retry: 'r' };

export type ClaimResult =
  /** This attempt holds the message: send it. */
  | { kind: 'claimed' }
  /** A run before this one committed the message and its answer never came: now flagged unknown, not sent again. */
  | { kind: 'unknown' }
  /** The message has an end already (sent, bounced, failed, unknown, skipped). */
  | { kind: 'done'; record: MessageRecord }
  /** Another attempt committed it and is waiting for the server's answer right now. */
  | { kind: 'committed' };

/** The hash field of an invoice's message of one kind. */
export function messageField(invoiceNumber: string, kind: MailKind): string {
  return `${MAIL_KINDS.indexOf(kind)}${invoiceKey(invoiceNumber)}`;
}

function decodeMessage(raw: string): MessageRecord {
  const state = STATE_BY_LETTER[raw.charAt(0)];
  if (state === undefined) throw new Error(`not a stored message: ${JSON.stringify(raw.slice(0, 40))}`);
  const [head = '', second = ''] = splitFields(raw.slice(1));
  if (state === 'skipped') return { state, atMs: null, detail: head === '' ? null : head };
  // c and d: attempt, time. The others: time, detail.
  if (state === 'claimed' || state === 'committed') return { state, atMs: second === '' ? null : unpackInt(second), detail: null };
  return { state, atMs: head === '' ? null : unpackInt(head), detail: second === '' ? null : second };
}

// Lua: counts the end of a batch's first message (KEYS[2] the batch hash) when the field is a first message.
const COUNT_LUA = `
local function countEnd(field, batchKey, letter, delta)
  if string.sub(field, 1, 1) ~= '0' then return end
  local names = {s = 'mail_sent', b = 'mail_bounced', f = 'mail_failed', u = 'mail_unknown'}
  local name = names[letter]
  if name and redis.call('EXISTS', batchKey) == 1 then redis.call('HINCRBY', batchKey, name, delta) end
end
`;

// KEYS: messages, batch. ARGV: field, attempt, nowMs (base 36). Claims the message for the attempt unless it ended
// or another attempt committed it. A claim of an attempt that never committed is taken over: that attempt is dead, or
// alive without its lock; its commit will be refused. A commit without an end (its run died after handing the message
// over) becomes unknown here, once.
const CLAIM = new LuaScript(`${COUNT_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local letter = raw and string.sub(raw, 1, 1) or ''
if letter == '' or letter == 'r' or letter == 'c' then
  redis.call('HSET', KEYS[1], ARGV[1], 'c' .. ARGV[2] .. '\\31' .. ARGV[3])
  return {'claimed'}
end
if letter == 'd' then
  local attempt = string.sub(raw, 2, string.find(raw, '\\31', 1, true) - 1)
  if attempt == ARGV[2] then return {'committed'} end
  redis.call('HSET', KEYS[1], ARGV[1], 'u' .. ARGV[3])
  countEnd(ARGV[1], KEYS[2], 'u', 1)
  return {'unknown'}
end
return {'done', raw}
`);

// KEYS: messages. ARGV: field, attempt, nowMs (base 36). Commits the attempt's claim: 1, or 0 when the attempt no
// longer holds it (the message must not be handed over).
const COMMIT = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or string.sub(raw, 1, 1) ~= 'c' then return 0 end
local attempt = string.sub(raw, 2, string.find(raw, '\\31', 1, true) - 1)
if attempt ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'd' .. ARGV[2] .. '\\31' .. ARGV[3])
return 1
`);

// KEYS: messages, batch, batch bounces. ARGV: field, attempt, end letter (s b f u r), the value to store, invoice
// number, reply. Records how the attempt's send ended, if the attempt still holds the message (claimed or
// committed); an answer that comes after the message was flagged unknown also counts (only one attempt can have
// committed). Returns 1 when recorded.
const END = new LuaScript(`${COUNT_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local letter = string.sub(raw, 1, 1)
local own = false
if letter == 'c' or letter == 'd' then
  local attempt = string.sub(raw, 2, string.find(raw, '\\31', 1, true) - 1)
  own = attempt == ARGV[2]
elseif letter == 'u' then
  own = ARGV[3] == 's' or ARGV[3] == 'b'
  if own then countEnd(ARGV[1], KEYS[2], 'u', -1) end
end
if not own then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
countEnd(ARGV[1], KEYS[2], ARGV[3], 1)
if ARGV[3] == 'b' then
  if string.sub(ARGV[1], 1, 1) == '0' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[3], ARGV[5], ARGV[6]) end
end
return 1
`);

// KEYS: messages. ARGV: field, value. Records a skipped message unless it has a record.
const SKIP = new LuaScript(`
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`);

export class MailLedger {
  readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** The Paywint account (its API key). */
    readonly account: string,
  ) {
    this.key = keys.messages(account);
  }

  /** Claims the message for `attempt` (see the module's notes). */
  async claim(batchId: string, invoiceNumber: string, kind: MailKind, attempt: string, nowMs = Date.now()): Promise<ClaimResult> {
    const reply = (await CLAIM.run(this.redis, [this.key, this.keys.batch(batchId)], [messageField(invoiceNumber, kind), attempt, packInt(nowMs)])) as string[];
    if (reply[0] === 'claimed' || reply[0] === 'unknown' || reply[0] === 'committed') return { kind: reply[0] };
    return { kind: 'done', record: decodeMessage(reply[1]!) };
  }

  /** Commits the attempt's claim just before the message is handed over; false when the attempt lost it. */
  async commit(invoiceNumber: string, kind: MailKind, attempt: string, nowMs = Date.now()): Promise<boolean> {
    return Number(await COMMIT.run(this.redis, [this.key], [messageField(invoiceNumber, kind), attempt, packInt(nowMs)])) === 1;
  }

  /** Records how the attempt's send ended; false when the attempt no longer held the message. */
  async end(batchId: string, invoiceNumber: string, kind: MailKind, attempt: string, how: SendEnd, reply: string | null, nowMs = Date.now()): Promise<boolean> {
    const detail = reply === null ? '' : reply.replace(/[\r\n]+/g, ' ').slice(0, MAX_REPLY_CHARS);
    const value = `${END_LETTER[how]}${joinFields(detail === '' ? [packInt(nowMs)] : [packInt(nowMs), detail])}`;
    const keys = [this.key, this.keys.batch(batchId), this.keys.batchBounces(batchId)];
    return Number(await END.run(this.redis, keys, [messageField(invoiceNumber, kind), attempt, END_LETTER[how], value, invoiceNumber, detail])) === 1;
  }

  /** Records a reminder not sent (the invoice was paid, its link closed), unless the message has a record. */
  async skip(invoiceNumber: string, kind: MailKind, why: string): Promise<void> {
    await SKIP.run(this.redis, [this.key], [messageField(invoiceNumber, kind), `x${joinFields([why])}`]);
  }

  /** The records of the messages of `invoiceNumbers`, each kind (undefined where none). */
  async read(invoiceNumbers: readonly string[]): Promise<Map<string, Partial<Record<MailKind, MessageRecord>>>> {
    const out = new Map<string, Partial<Record<MailKind, MessageRecord>>>();
    if (invoiceNumbers.length === 0) return out;
    const fields = invoiceNumbers.flatMap((n) => MAIL_KINDS.map((k) => messageField(n, k)));
    const raw = await this.redis.hmget(this.key, ...fields);
    invoiceNumbers.forEach((n, i) => {
      const records: Partial<Record<MailKind, MessageRecord>> = {};
      MAIL_KINDS.forEach((k, j) => {
        const value = raw[i * MAIL_KINDS.length + j];
        if (value !== null && value !== undefined) records[k] = decodeMessage(value);
      });
      out.set(n, records);
    });
    return out;
  }
}
