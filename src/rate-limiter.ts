/**
 * One request schedule per Paywint account, shared in Redis by every worker
 * on every machine.
 *
 * BullMQ's own limiter counts job starts; paylinks must count HTTP requests
 * (retries inside a job included), so every request first reserves a slot
 * here. Slots are spaced evenly at `1 / rate` (a GCRA with no burst), on
 * Redis's clock, so no one-second window holds more than `rate` requests
 * plus one, whatever the number of workers. A 429 moves the whole schedule
 * past its `Retry-After`.
 */
import { LuaScript, type RedisClient } from './lua.js';

/**
 * Lua: `reserveSlot(key, intervalUs)` reserves the next slot of the schedule
 * at `key` and returns the wait before it, in µs, on Redis's clock. Shared
 * with the ledger, whose attempt script reserves the slot and, when it is
 * due now, begins the attempt in the same round trip.
 */
export const RESERVE_SLOT_LUA = `
local function nowUs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function reserveSlot(key, interval)
  local now = nowUs()
  local slot = tonumber(redis.call('GET', key) or '0')
  if slot < now then slot = now end
  local nextSlot = slot + interval
  redis.call('SET', key, string.format('%.0f', nextSlot), 'PX', math.floor((nextSlot - now) / 1000) + 60000)
  return slot - now
end
`;

/** KEYS[1] schedule; ARGV[1] pause in µs. No slot starts before now + pause. */
const PAUSE = new LuaScript(`${RESERVE_SLOT_LUA}
local resumeAt = nowUs() + tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < resumeAt then
  redis.call('SET', KEYS[1], string.format('%.0f', resumeAt), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 60000)
end
return 1
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

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RateLimiterOptions,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be above 0, got ${options.ratePerSecond}`);
    this.intervalUs = Math.max(1, Math.round(1_000_000 / options.ratePerSecond));
  }

  get key(): string {
    return this.options.key;
  }

  /** Holds every slot back for `ms` from now (Paywint said 429 with `Retry-After`). */
  async pause(ms: number): Promise<void> {
    await PAUSE.run(this.redis, [this.options.key], [Math.round(ms * 1000)]);
  }
}
