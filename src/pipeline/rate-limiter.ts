/**
 * One request schedule per Paywint account, shared in Redis by every worker
 * on every machine.
 *
 * BullMQ's own limiter counts job starts; paylinks must count HTTP requests
 * (retries inside a job included), so every request first reserves a slot
 * here. It is a GCRA on Redis's clock: requests are spaced at `1 / rate`,
 * with a burst of `rate / 20` (at least 1) allowed, so no one-second window
 * holds more than `rate × 1.05` requests plus one, whatever the number of
 * workers, and at high rates jobs in flight do not queue behind each other
 * for tenths of a millisecond. A 429 moves the whole schedule past its
 * `Retry-After`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LuaScript, type RedisClient } from '../core/lua.js';

/**
 * Lua: `reserveSlot(key, intervalUs, toleranceUs)` reserves the next slot of
 * the schedule at `key` (its theoretical arrival time, GCRA) and returns the
 * wait before it, in µs, on Redis's clock; a slot up to `toleranceUs` ahead
 * of now is taken at once (the burst). Shared
 * with the ledger, whose attempt script reserves the slot and, when it is
 * due now, begins the attempt in the same round trip.
 */
export const RESERVE_SLOT_LUA = `
local function nowUs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function reserveSlot(key, interval, tolerance)
  local now = nowUs()
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local nextTat = tat + interval
  redis.call('SET', key, string.format('%.0f', nextTat), 'PX', math.floor((nextTat - now) / 1000) + 60000)
  local wait = tat - tolerance - now
  if wait < 0 then return 0 end
  return wait
end
`;

/** KEYS[1] schedule; ARGV[1] pause in µs, ARGV[2] tolerance in µs. No slot starts before now + pause. */
const PAUSE = new LuaScript(`${RESERVE_SLOT_LUA}
local tat = nowUs() + tonumber(ARGV[1]) + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tat then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 60000)
end
return 1
`);

/** KEYS[1] schedule; ARGV[1] interval µs, ARGV[2] tolerance µs. Reserves the next slot; returns the wait before it, µs. */
const ACQUIRE = new LuaScript(`${RESERVE_SLOT_LUA}
return string.format('%.0f', reserveSlot(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])))
`);

export interface RateLimiterOptions {
  /** The schedule's key (see `Keys.rateLimit`). */
  key: string;
  /** Requests per second, all holders of the key together. */
  ratePerSecond: number;
}

export class RateLimiter {
  /** Spacing of the slots, µs. */
  readonly intervalUs: number;
  /** How far ahead of now a slot is still taken at once (the burst), µs. */
  readonly toleranceUs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RateLimiterOptions,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be above 0, got ${options.ratePerSecond}`);
    this.intervalUs = Math.max(1, Math.round(1_000_000 / options.ratePerSecond));
    const burst = Math.max(1, Math.floor(options.ratePerSecond / 20));
    this.toleranceUs = (burst - 1) * this.intervalUs;
  }

  get key(): string {
    return this.options.key;
  }

  /**
   * Takes the next slot of the shared schedule and waits for it (a request
   * that is not a link creation: the payment reads of the sweep and of
   * webhook confirmations). Resolves at once when the slot is due now.
   */
  async acquire(signal?: AbortSignal): Promise<number> {
    const waitUs = Number(await ACQUIRE.run(this.redis, [this.options.key], [this.intervalUs, this.toleranceUs]));
    if (waitUs >= 1000) await sleep(Math.round(waitUs / 1000), undefined, { signal });
    return waitUs / 1000;
  }

  /** Holds every slot back for `ms` from now (Paywint said 429 with `Retry-After`). */
  async pause(ms: number): Promise<void> {
    await PAUSE.run(this.redis, [this.options.key], [Math.round(ms * 1000), this.toleranceUs]);
  }
}
