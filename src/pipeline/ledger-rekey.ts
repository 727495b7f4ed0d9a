/**
 * Moving a ledger written before paylinks keyed it by the invoice's key
 * (issue 20, item 2): the fields of the ledger, claims and unsettled hashes
 * were the invoice numbers as written (`inv-7`); they are now their keys
 * (`INV-7`, see {@link ledgerField}), the number as written kept in the entry.
 *
 * Decisions:
 * - **Once per account, when the ledger is first opened** (by `run`,
 *   `worker`, `serve`, `ledger`, any command that opens the backend for an
 *   account), not lazily: a lazy lookup cannot find `inv-7`'s entry from a
 *   file that says `Inv-7` (neither is the old field) without scanning, so
 *   every lookup would have to. A marker key per account
 *   (`Keys.ledgerKeyed`) says the pass is done: after it, a start costs one
 *   GET. Processes starting together wait for the one that holds the lock.
 * - **Safe and idempotent**: each move is a compare-and-set in one script
 *   (the entry must still be what was read; the key's field must be free),
 *   so a pass that dies half-way, or runs twice, changes nothing twice.
 * - **Nothing is lost**: where two old entries are one invoice now (`INV-7`
 *   and `inv-7`, two links made before), the one under the key stays the
 *   invoice's entry, the other stays under its old field (still exported,
 *   still indexed for payments), and the pass logs them.
 * - Unsettled counts of unknown outcomes are added up under the key; a claim
 *   left under an old field (a worker of the old version killed mid-request)
 *   moves when the key's field is free.
 *
 * Measured (bench/ledger-rekey-bench.ts, docs/ledger.md): see the docs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LuaScript, type RedisClient } from '../core/lua.js';
import type { Logger } from '../core/logger.js';
import type { Keys } from './keys.js';
import { decodeLedgerEntry, encodeLedgerEntry, ledgerField, LEDGER_ENTRY_FIELDS_LUA } from './ledger.js';
import { FIELDS_LUA } from './scripts/includes/fields.js';
import { UNSETTLED_LUA } from './scripts/includes/release-claim.js';

/** The marker's value once an account's ledger is keyed by invoice keys. */
const KEYED = '1';
/** How long one pass may hold its lock without renewing it, ms (renewed per page). */
const LOCK_MS = 30_000;

// KEYS: ledger. ARGV: per entry: old field, new field, the entry as read, the entry to write. Each in one step: an
// entry changed since it was read is left ('changed'); moved when the new field is free ('moved'); when it holds the
// same link, the old one is dropped ('merged'); else left where it is ('collision').
const MOVE_ENTRIES = new LuaScript(`${FIELDS_LUA}${LEDGER_ENTRY_FIELDS_LUA}
local out = {}
for i = 1, #ARGV, 4 do
  local old, new, expected, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local current = redis.call('HGET', KEYS[1], old)
  if current ~= expected then
    out[#out + 1] = 'changed'
  else
    local there = redis.call('HGET', KEYS[1], new)
    if not there then
      redis.call('HSET', KEYS[1], new, entry)
      redis.call('HDEL', KEYS[1], old)
      out[#out + 1] = 'moved'
    elseif fields(there)[ENTRY_PAYMENT_ID] == fields(entry)[ENTRY_PAYMENT_ID] then
      redis.call('HDEL', KEYS[1], old)
      out[#out + 1] = 'merged'
    else
      out[#out + 1] = 'collision'
    end
  end
end
return out
`);

// KEYS: claims, unsettled. ARGV: 'c' or 'u' (which hash), then pairs of old and new field. Unsettled counts are
// added up under the new field (the larger accepted count kept); a claim moves when the new field is free.
// Returns how many moved.
const MOVE_SMALL = new LuaScript(`${UNSETTLED_LUA}
local moved = 0
for i = 2, #ARGV, 2 do
  local old, new = ARGV[i], ARGV[i + 1]
  if ARGV[1] == 'u' then
    local u, a = readUnsettled(KEYS[2], old)
    if redis.call('HEXISTS', KEYS[2], old) == 1 then
      local u2, a2 = readUnsettled(KEYS[2], new)
      writeUnsettled(KEYS[2], new, u + u2, math.max(a, a2))
      redis.call('HDEL', KEYS[2], old)
      moved = moved + 1
    end
  else
    local raw = redis.call('HGET', KEYS[1], old)
    if raw and redis.call('HEXISTS', KEYS[1], new) == 0 then
      redis.call('HSET', KEYS[1], new, raw)
      redis.call('HDEL', KEYS[1], old)
      moved = moved + 1
    end
  end
end
return moved
`);

export interface RekeyReport {
  /** Entries of the ledger looked at. */
  scanned: number;
  /** Entries moved under their invoice's key. */
  moved: number;
  /** Entries dropped because the key's field held the same link. */
  merged: number;
  /** Entries left under their old field: the key's field holds another link (the first few named in `examples`). */
  collisions: number;
  examples: string[];
  /** Unsettled counts and claims moved. */
  unsettledMoved: number;
  claimsMoved: number;
  ms: number;
}

export interface RekeyOptions {
  /** Fields asked for per HSCAN call. Default 1000. */
  scanCount?: number;
}

/** Fields of `hashKey` that are not their own key, a page at a time, with their values. */
async function* unkeyedFields(redis: RedisClient, hashKey: string, count: number, seen: { n: number }): AsyncGenerator<{ field: string; key: string; value: string }[]> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(hashKey, cursor, 'COUNT', count);
    cursor = next;
    const page: { field: string; key: string; value: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      seen.n += 1;
      const field = flat[i]!;
      const key = ledgerField(field);
      if (key !== field) page.push({ field, key, value: flat[i + 1]! });
    }
    yield page;
  } while (cursor !== '0');
}

/**
 * One pass over an account's ledger, claims and unsettled counts, moving
 * every field that is not its invoice's key (see the module's notes).
 * Idempotent; safe while nothing else writes old fields.
 */
export async function rekeyLedger(redis: RedisClient, keys: Keys, account: string, options: RekeyOptions & { onPage?: () => Promise<void> } = {}): Promise<RekeyReport> {
  const started = Date.now();
  const count = options.scanCount ?? 1000;
  const ledgerKey = keys.ledger(account);
  const report: RekeyReport = { scanned: 0, moved: 0, merged: 0, collisions: 0, examples: [], unsettledMoved: 0, claimsMoved: 0, ms: 0 };
  const seen = { n: 0 };
  for await (const page of unkeyedFields(redis, ledgerKey, count, seen)) {
    if (page.length > 0) {
      const args = page.flatMap(({ field, key, value }) => [field, key, value, encodeLedgerEntry({ ...decodeLedgerEntry(value), invoiceNumber: field.trim() })]);
      const reply = (await MOVE_ENTRIES.run(redis, [ledgerKey], args)) as string[];
      reply.forEach((kind, i) => {
        if (kind === 'moved') report.moved += 1;
        else if (kind === 'merged') report.merged += 1;
        else if (kind === 'collision') {
          report.collisions += 1;
          if (report.examples.length < 5) report.examples.push(page[i]!.field);
        }
      });
    }
    await options.onPage?.();
  }
  report.scanned = seen.n;
  const small = keys.claims(account);
  const unsettled = keys.unsettled(account);
  for (const [kind, hashKey] of [['u', unsettled], ['c', small]] as const) {
    for await (const page of unkeyedFields(redis, hashKey, count, { n: 0 })) {
      if (page.length === 0) continue;
      const moved = Number(await MOVE_SMALL.run(redis, [small, unsettled], [kind, ...page.flatMap(({ field, key }) => [field, key])]));
      if (kind === 'u') report.unsettledMoved += moved;
      else report.claimsMoved += moved;
    }
  }
  report.ms = Date.now() - started;
  return report;
}

/**
 * Makes sure the account's ledger is keyed by invoice keys before anything
 * reads or writes it: one GET when it is; else one process moves it (the
 * others wait). Resolves with the report of the pass this call ran, if any.
 */
export async function ensureLedgerKeyed(redis: RedisClient, keys: Keys, account: string, logger: Logger, options: RekeyOptions = {}): Promise<RekeyReport | undefined> {
  const marker = keys.ledgerKeyed(account);
  if ((await redis.get(marker)) === KEYED) return undefined;
  const lock = `${marker}:lock`;
  const token = `${process.pid}-${Date.now()}-${Math.random()}`;
  while ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    // Another process is moving it: done when its marker is there (or its lock expired: then try again).
    await sleep(100);
    if ((await redis.get(marker)) === KEYED) return undefined;
  }
  try {
    if ((await redis.get(marker)) === KEYED) return undefined;
    const report = await rekeyLedger(redis, keys, account, { ...options, onPage: async () => void (await redis.pexpire(lock, LOCK_MS)) });
    await redis.set(marker, KEYED);
    if (report.moved + report.merged + report.collisions + report.unsettledMoved + report.claimsMoved > 0) {
      logger.info({ ...report, examples: undefined }, `the ledger is now keyed by invoice keys (inv-7 is INV-7): ${report.moved} of ${report.scanned} entries moved in ${report.ms} ms`);
    }
    if (report.collisions > 0) {
      logger.warn(
        { collisions: report.collisions, examples: report.examples },
        `${report.collisions} ledger entries were left under the number as written: their invoice (compared without regard to case) already has another link (e.g. ${report.examples.join(', ')}); Paywint holds two links for each`,
      );
    }
    return report;
  } finally {
    if ((await redis.get(lock)) === token) await redis.del(lock);
  }
}
