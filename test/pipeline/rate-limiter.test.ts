/**
 * The shared rate limiter's decisions, on Redis's clock (real Redis, many
 * callers at once, timers made late on purpose): every request it lets go is
 * in its record of the last requests (read often enough to see each one), so
 * the window, the spacing, the pace and the pauses are checked exactly,
 * whatever the machine's load does to the callers. What Paywint sees (the
 * simulator's stamps) is checked in test/processes/rate-limit.test.ts.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Keys } from '../../src/pipeline/keys.js';
import { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = new Redis(testRedisUrl());
  prefix = uniquePrefix('limiter');
});

afterEach(async (context) => {
  redis.disconnect();
  if (context.task.result?.state !== 'fail') await deletePrefix(testRedisUrl(), prefix);
});

/** Redis's clock, µs. */
async function redisNowUs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1_000_000 + Number(us);
}

/**
 * Collects every request time the limiter records (its ring of the last `capacity` requests, each kept about a
 * second: read every 100 ms, none is missed) until `stop` resolves.
 */
async function recordDecisions(key: string, stop: Promise<unknown>): Promise<number[]> {
  const seen = new Set<number>();
  let done = false;
  void stop.finally(() => (done = true));
  for (;;) {
    const fields = await redis.hgetall(key);
    for (const [field, value] of Object.entries(fields)) if (/^u\d+$/.test(field)) seen.add(Number(value));
    if (done) break;
    await sleep(100);
  }
  return [...seen].sort((a, b) => a - b);
}

function busiest(sortedUs: readonly number[], windowUs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < sortedUs.length; i += 1) {
    while (sortedUs[i]! - sortedUs[j]! >= windowUs) j += 1;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Holds the event loop (a busy process): every timer due meanwhile fires late. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('RateLimiter', () => {
  it('at 50/s with 25 callers and late timers: never more than 50 in a second, at the pace', async () => {
    const limiter = new RateLimiter(redis, { key: new Keys(prefix).rateLimit('acct'), ratePerSecond: 50 });
    const total = 300;
    let taken = 0;
    const callers = Promise.all(
      Array.from({ length: 25 }, async (_, n) => {
        while (taken < total) {
          taken += 1;
          await limiter.acquire();
          // Some callers are slow to come back (a late timer, a busy process): their next slots are used late.
          if (n % 5 === 0 && Math.random() < 0.2) hold(30);
          await sleep(Math.random() * 40);
        }
      }),
    );
    const decisions = await recordDecisions(limiter.key, callers);

    expect(decisions).toHaveLength(total);
    expect(busiest(decisions, 1_000_000)).toBeLessThanOrEqual(50);
    // The pace: (requests - 1) intervals of 1/50 s and the 0.5% margin at least; at most what the held-up callers
    // and a busy machine cost (the 1% figure is the bench's, bench/realistic-bench.ts).
    const spanSeconds = (decisions.at(-1)! - decisions[0]!) / 1e6;
    expect(spanSeconds).toBeGreaterThanOrEqual(((total - 1) / 50) * 1.004);
    expect(spanSeconds).toBeLessThanOrEqual((total / 50) * 1.5);
  }, 30_000);

  it('no request inside a pause, slots reserved before it included', async () => {
    const limiter = new RateLimiter(redis, { key: new Keys(prefix).rateLimit('acct'), ratePerSecond: 50 });
    let stopping = false;
    // 30 callers waiting at 50/s: slots are reserved up to 0.6 s ahead when the pause comes.
    const callers = Promise.all(
      Array.from({ length: 30 }, async () => {
        while (!stopping) await limiter.acquire();
      }),
    );
    const recorded = recordDecisions(limiter.key, callers);
    await sleep(1500);
    const before = await redisNowUs();
    await limiter.pause(800);
    const after = await redisNowUs();
    await sleep(1500);
    stopping = true;
    const decisions = await recorded;

    const inside = decisions.filter((t) => t > after && t < before + 800_000);
    expect(inside.map((t) => `${((t - before) / 1000).toFixed(1)} ms after the pause began`)).toEqual([]);
    // Requests went on before and after it.
    expect(decisions.filter((t) => t < before).length).toBeGreaterThan(40);
    expect(decisions.filter((t) => t >= before + 800_000).length).toBeGreaterThan(40);
    expect(busiest(decisions, 1_000_000)).toBeLessThanOrEqual(50);
  }, 30_000);

  it('a schedule left by an older paylinks (a plain time string) is started afresh', async () => {
    const key = new Keys(prefix).rateLimit('acct');
    await redis.set(key, String(Date.now() * 1000 + 60_000_000));
    const limiter = new RateLimiter(redis, { key, ratePerSecond: 50 });
    expect(await limiter.acquire()).toBe(0);
  });

  it('a limit above 1 counts whole requests; below 1, one request per 1/rate seconds', () => {
    const key = new Keys(prefix).rateLimit('acct');
    expect(new RateLimiter(redis, { key, ratePerSecond: 2.5 }).capacity).toBe(2);
    const slow = new RateLimiter(redis, { key, ratePerSecond: 0.5 });
    expect(slow.capacity).toBe(1);
    expect(slow.windowUs).toBe(2_010_000);
  });
});
