/**
 * One request schedule per Paywint account, shared in Redis by every worker
 * on every machine.
 *
 * BullMQ's own limiter counts job starts; paylinks must count HTTP requests
 * (retries inside a job included), so every request first takes a slot here.
 * Two rules, both on Redis's clock, checked in one script when a request is
 * about to go out:
 *
 * - the schedule (a GCRA with no burst): slots are reserved one after the
 *   other, `intervalUs` apart; a slot is used at its time or later, never
 *   earlier;
 * - the window: the times of the last `capacity` requests are kept, and a
 *   request goes only when the one `capacity` requests back is at least
 *   `windowUs` old. So no window of `windowUs` (a little over one second:
 *   see {@link STAMP_MARGIN}) ever holds more than `capacity` requests, the
 *   limit, whatever the timers do: a late timer uses its slot late, and the
 *   requests after it wait for the window rather than bunch up behind it.
 *   A slot's wait runs until the window will have room for it, so a request
 *   rarely has to wait twice; requests the window holds back get times of
 *   their own, half an interval apart (never all at once).
 *
 * A 429 pauses the schedule past its `Retry-After`: a slot reserved before
 * the pause that falls inside it is given up for a new one after it, so no
 * request starts during a pause.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LuaScript, type RedisClient } from '../core/lua.js';

/**
 * How much longer than one second the window is (and the slots further
 * apart), as a share: 0.5%, 5 ms. Paywint counts arrivals, which trail the
 * moment a slot is taken by a Redis answer, a process's turn on a core and
 * a socket write; a request that trails more than the one a second after it
 * would otherwise put one request too many in Paywint's second. Costs 0.5%
 * of the pace.
 */
export const STAMP_MARGIN = 0.005;

/**
 * Lua, shared with the ledger's claim and attempt scripts. The schedule is a
 * hash: `tat` the next free slot, `pause` no request before it, `next` the
 * next time given to a request held back by the window, `i` the ring
 * position, `u0`..`u<capacity-1>` the times of the last requests (all µs on
 * Redis's clock). The capacity is `window / interval` (the window is a whole
 * number of intervals).
 *
 * - `takeSlot(key, slot, interval, window)`: the request holding `slot` (nil:
 *   none yet; one is reserved) is about to go out. Returns 0 when it may go
 *   now (its use recorded), else the wait in µs and the slot to come back with.
 * - `takeSlotNow(key, interval, window)`: takes a slot and records its use
 *   only if one is free now; true if taken.
 */
export const RATE_SLOT_LUA = `
local function nowUs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function rateOpen(key)
  -- A string is the schedule of an older paylinks (a plain GCRA time): start afresh.
  if redis.call('TYPE', key)['ok'] == 'string' then redis.call('DEL', key) end
  local v = redis.call('HMGET', key, 'tat', 'pause', 'i')
  return tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
end
local function rateKeep(key, tat, pause, now, window)
  redis.call('PEXPIRE', key, math.floor((math.max(tat, pause, now) - now + window) / 1000) + 60000)
end
local function rateCapacity(interval, window)
  return math.max(1, math.floor(window / interval + 0.5))
end
-- The wait before one more request may go now (0: it may): the window must have room for it.
local function rateWindowWait(key, i, window, now)
  local oldest = tonumber(redis.call('HGET', key, 'u' .. i) or '0')
  if oldest + window > now then return oldest + window - now end
  return 0
end
local function rateRecord(key, i, interval, window, now)
  redis.call('HSET', key, 'u' .. i, string.format('%.0f', now), 'i', (i + 1) % rateCapacity(interval, window))
end
local function takeSlot(key, slot, interval, window)
  local tat, pause, i = rateOpen(key)
  i = i % rateCapacity(interval, window)
  local now = nowUs()
  -- Reserved before a 429's pause and due inside it: given up for a slot after it.
  if slot and slot < pause then slot = nil end
  if not slot then
    slot = math.max(tat, now, pause)
    tat = slot + interval
    redis.call('HSET', key, 'tat', string.format('%.0f', tat))
    -- Its wait runs until the window will have room for it (the slots reserved and not yet used go first, so the
    -- request it must follow by a window is the one as many places further in the record): it rarely has to
    -- wait twice. The schedule itself keeps its pace, so the requests after it may catch up.
    local capacity = rateCapacity(interval, window)
    local ahead = math.floor((slot - now) / interval)
    if ahead < capacity then
      local before = tonumber(redis.call('HGET', key, 'u' .. ((i + ahead) % capacity)) or '0')
      if before + window > slot then slot = before + window end
    end
  end
  local wait = slot - now
  if wait <= 0 then
    wait = rateWindowWait(key, i, window, now)
    if wait <= 0 then
      rateRecord(key, i, interval, window, now)
    else
      -- Due, but the window says not yet (earlier requests went late). Callers held back get distinct times,
      -- half an interval apart, rather than all the same one: a process that got no core for a while wakes many
      -- at once, and they must not all come back together, again and again.
      local at = math.max(now + wait, tonumber(redis.call('HGET', key, 'next') or '0'))
      redis.call('HSET', key, 'next', string.format('%.0f', at + math.floor(interval / 2)))
      slot = at
      wait = at - now
    end
  end
  rateKeep(key, tat, pause, now, window)
  if wait < 0 then wait = 0 end
  return wait, slot
end
local function takeSlotNow(key, interval, window)
  local tat, pause, i = rateOpen(key)
  i = i % rateCapacity(interval, window)
  local now = nowUs()
  if tat > now or pause > now or rateWindowWait(key, i, window, now) > 0 then return false end
  tat = now + interval
  redis.call('HSET', key, 'tat', string.format('%.0f', tat))
  rateRecord(key, i, interval, window, now)
  rateKeep(key, tat, pause, now, window)
  return true
end
`;

/** KEYS[1] schedule; ARGV[1] pause in µs, ARGV[2] window µs. No request starts before now + pause. */
const PAUSE = new LuaScript(`${RATE_SLOT_LUA}
local tat, pause = rateOpen(KEYS[1])
local now = nowUs()
local untilUs = now + tonumber(ARGV[1])
if untilUs > pause then
  redis.call('HSET', KEYS[1], 'pause', string.format('%.0f', untilUs))
  rateKeep(KEYS[1], tat, untilUs, now, tonumber(ARGV[2]))
end
return 1
`);

/**
 * KEYS[1] schedule; ARGV[1] the slot reserved earlier ('' for none), ARGV[2] interval µs, ARGV[3] window µs.
 * Returns the wait (µs; '0' when the request may go now, its use recorded) and the slot to come back with.
 */
const TAKE = new LuaScript(`${RATE_SLOT_LUA}
local wait, slot = takeSlot(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return {string.format('%.0f', wait), string.format('%.0f', slot)}
`);

export interface RateLimiterOptions {
  /** The schedule's key (see `Keys.rateLimit`). */
  key: string;
  /** Requests per second, all holders of the key together. A limit above 1 counts whole requests (2.5 allows 2 in any second). */
  ratePerSecond: number;
}

export class RateLimiter {
  /** Spacing of the slots, µs: `windowUs / capacity`. */
  readonly intervalUs: number;
  /** The sliding window, µs: one second and {@link STAMP_MARGIN} (longer below one request a second). */
  readonly windowUs: number;
  /** Requests allowed in any window: the limit (at least 1). */
  readonly capacity: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RateLimiterOptions,
  ) {
    const rate = options.ratePerSecond;
    if (!(rate > 0)) throw new RangeError(`ratePerSecond must be above 0, got ${rate}`);
    this.capacity = Math.max(1, Math.floor(rate));
    const windowSeconds = Math.max(1, this.capacity / rate) * (1 + STAMP_MARGIN);
    this.intervalUs = Math.max(1, Math.round((windowSeconds * 1_000_000) / this.capacity));
    this.windowUs = this.intervalUs * this.capacity;
  }

  get key(): string {
    return this.options.key;
  }

  /**
   * Takes the next slot of the shared schedule and waits for it (a request
   * that is not a link creation: the payment reads of the sweep and of
   * webhook confirmations). Resolves, with the time waited in ms, when the
   * request may go out: at once when a slot is free now.
   */
  async acquire(signal?: AbortSignal): Promise<number> {
    let slot = '';
    let waitedMs = 0;
    for (;;) {
      const [waitUs, next] = (await TAKE.run(this.redis, [this.options.key], [slot, this.intervalUs, this.windowUs])) as [string, string];
      if (Number(waitUs) <= 0) return waitedMs;
      const ms = Math.ceil(Number(waitUs) / 1000);
      waitedMs += ms;
      slot = next;
      await sleep(ms, undefined, { signal });
    }
  }

  /** Holds every request back for `ms` from now (Paywint said 429 with `Retry-After`). */
  async pause(ms: number): Promise<void> {
    await PAUSE.run(this.redis, [this.options.key], [Math.round(ms * 1000), this.windowUs]);
  }
}
