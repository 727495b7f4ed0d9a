/**
 * The rate limit as Paywint would see it: the simulator, in its own process,
 * stamps every request's arrival, and its busiest sliding second must hold no
 * more than PAYLINKS_RATE_LIMIT requests, retries included; the pace must
 * still be the limit's; and no request may arrive while a 429's `Retry-After`
 * holds (after paylinks has had a moment to hear of the 429).
 *
 * The simulator runs at normal priority where the test may raise it; when
 * the machine is busier than its cores, arrivals bunch by up to the longest
 * hold-up of a process on their way (the simulator's or a worker's event-loop
 * delay, as each measures it), and the windows are shortened by that much
 * (the limiter's own decisions are checked exactly, on Redis's clock, in
 * test/pipeline/rate-limiter.test.ts).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { busiestWindow } from '../../src/paywint/simulator/ledger.js';
import type { SimulatorStats } from '../../src/paywint/simulator/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { testRedisUrl } from '../helpers/redis.js';
import { startSimulatorProcess, startWorkerProcess, type SpawnedProcess } from '../helpers/processes.js';
import { API_KEY, API_SECRET, collect, paylinksEnv, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('ratelimit', 'ratelimit');

/** Requests already on their way when paylinks paused (their slot taken just before): they may arrive this much later. */
const IN_FLIGHT_MS = 20;

/**
 * Watches the account's rate schedule in Redis until `stop` resolves: the end of every pause paylinks set (on
 * Redis's clock, ms), so that each 429 can be matched with the moment paylinks heard of it.
 */
async function watchPauses(redisUrl: string, key: string, stop: Promise<unknown>): Promise<number[]> {
  const redis = new Redis(redisUrl);
  const ends = new Set<number>();
  let done = false;
  void stop.finally(() => (done = true));
  try {
    while (!done) {
      const value = await redis.hget(key, 'pause').catch(() => null);
      if (value !== null) ends.add(Number(value) / 1000);
      await sleep(10);
    }
  } finally {
    redis.disconnect();
  }
  return [...ends].sort((a, b) => a - b);
}

/**
 * How much arrivals may have bunched on their way, past the 5 ms paylinks allows for: the longest any process on
 * the way (the simulator, each worker) was held up, by its event loop or by a machine with more work than cores.
 */
function stampSlackMs(stats: SimulatorStats, workerLagMs: number): number {
  return Math.max(0, Math.max(stats.stampDelayMaxMs, workerLagMs) - 5);
}

/** The longest event-loop delay of the workers (their /metrics, `nodejs_eventloop_lag_max_seconds`), ms. */
async function workersLagMs(workers: readonly SpawnedProcess[]): Promise<number> {
  let most = 0;
  for (const worker of workers) {
    const port = /"metricsPort":(\d+)/.exec(worker.stderr())?.[1];
    if (port === undefined) throw new Error(`no metrics port in the log of ${worker.name}`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^paylinks_process_nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text);
    if (!m) throw new Error(`no event-loop lag in the metrics of ${worker.name}`);
    most = Math.max(most, Number(m[1]) * 1000);
  }
  return most;
}

describe('the rate limit, counted by the simulator', () => {
  it('at 50/s over two workers: no sliding second above 50, at about the pace', async () => {
    const rows = 600;
    const sim = await startSimulatorProcess(API_KEY, API_SECRET, ['--latency-ms', '20', '--jitter-ms', '40']);
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_RATE_LIMIT: '50', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'rate50.csv', rows);
    const workers = await Promise.all([1, 2].map((n) => startWorkerProcess(env, `worker#${n}`)));

    const batchId = await submit(file, env);
    const collected = await collect(batchId, path.join(ws.dir, 'rate50.out.csv'), env);
    const lagMs = await workersLagMs(workers);

    expect(collected.code, collected.stderr).toBe(0);
    expect(collected.rows.filter((r) => r.status === 'created')).toHaveLength(rows);
    const stats = await sim.stats();
    expect(stats.arrivalsMs).toHaveLength(rows);
    const spanSeconds = (stats.arrivalsMs.at(-1)! - stats.arrivalsMs[0]!) / 1000;
    // The simulator's stamps are late, and bunch, by as much as its own turns came late (a machine with more
    // work than cores): its windows are shortened by that much, so only paylinks' bunching counts.
    const windowMs = 1000 - stampSlackMs(stats, lagMs);
    const most = busiestWindow(stats.arrivalsMs, windowMs).requests;
    console.info(
      `[rate 50/s] busiest second ${stats.busiestSecond.requests} (${most} in ${windowMs.toFixed(0)} ms; simulator held up to ` +
        `${stats.stampDelayMaxMs.toFixed(1)} ms, workers ${lagMs.toFixed(1)} ms); ${rows} requests over ${spanSeconds.toFixed(2)} s (rows ÷ rate ${(rows / 50).toFixed(2)} s)`,
    );
    expect(most).toBeLessThanOrEqual(50);
    // Within 1% on a quiet machine (bench/realistic-bench.ts); here, only what a busy machine costs at most.
    expect(spanSeconds).toBeGreaterThanOrEqual(((rows - 1) / 50) * 1.004);
    expect(spanSeconds).toBeLessThanOrEqual((rows / 50) * 1.5);
  }, 120_000);

  it('under faults (30% 500s, 5% 429s with Retry-After, timeouts): no second above 50, no request inside a Retry-After', async () => {
    const rows = 200;
    const sim = await startSimulatorProcess(API_KEY, API_SECRET, ['--latency-ms', '20', '--jitter-ms', '20']);
    await sim.faults({ errorRate: 0.3, rateLimitedRate: 0.05, retryAfterSeconds: 1, hangRate: 0.03 });
    const env = paylinksEnv({
      redisUrl: testRedisUrl(),
      prefix: ws.prefix,
      sim,
      // Many rows waiting for a slot: slots reserved up to 40 × 20 ms ahead when a 429 comes.
      extra: { PAYLINKS_RATE_LIMIT: '50', PAYLINKS_CONCURRENCY: '20', PAYLINKS_TIMEOUT_MS: '400' },
    });
    const file = await writeInvoiceFile(ws.dir, 'faults.csv', rows);
    const workers = await Promise.all([1, 2].map((n) => startWorkerProcess(env, `worker#${n}`)));

    const batchId = await submit(file, env);
    const finished = collect(batchId, path.join(ws.dir, 'faults.out.csv'), env, 300_000);
    const pauseEnds = await watchPauses(testRedisUrl(), new Keys(ws.prefix).rateLimit(API_KEY), finished);
    const collected = await finished;
    const lagMs = await workersLagMs(workers);

    expect(collected.rows, collected.stderr).toHaveLength(rows);
    const stats = await sim.stats();
    // The faults did fire, and were retried.
    expect(stats.byStatus['429'] ?? 0).toBeGreaterThan(3);
    expect((stats.byStatus['500'] ?? 0) + (stats.byStatus['503'] ?? 0)).toBeGreaterThan(20);
    expect(stats.hung).toBeGreaterThan(0);
    expect(stats.arrivalsMs.length).toBeGreaterThan(rows * 1.3);
    // Each 429: from the moment paylinks paused for it (its pause's end less the Retry-After; requests then on
    // their way aside) to the end of its Retry-After, no request arrives.
    const inPause: string[] = [];
    for (const answer of stats.rateLimitedAnswers) {
      const end = pauseEnds.find((e) => e >= answer.atMs + answer.retryAfterMs - 1);
      if (end === undefined || end - answer.retryAfterMs > answer.atMs + 2000) {
        inPause.push(`no pause for the 429 at ${answer.atMs}`);
        continue;
      }
      const from = end - answer.retryAfterMs + IN_FLIGHT_MS + stampSlackMs(stats, lagMs);
      const until = answer.atMs + answer.retryAfterMs;
      const inside = stats.arrivalsMs.filter((t) => t > from && t < until);
      if (inside.length > 0) {
        const heard = Math.round(end - answer.retryAfterMs - answer.atMs);
        inPause.push(`${inside.length} request(s) ${inside.map((t) => Math.round(t - answer.atMs)).join(', ')} ms after a 429 of Retry-After ${answer.retryAfterMs} ms (paused ${heard} ms after it)`);
      }
    }
    const windowMs = 1000 - stampSlackMs(stats, lagMs);
    const most = busiestWindow(stats.arrivalsMs, windowMs).requests;
    console.info(
      `[rate 50/s, faults] busiest second ${stats.busiestSecond.requests} (${most} in ${windowMs.toFixed(0)} ms; simulator held up to ` +
        `${stats.stampDelayMaxMs.toFixed(1)} ms, workers ${lagMs.toFixed(1)} ms); ${stats.arrivalsMs.length} requests, ${stats.rateLimitedAnswers.length} 429s, ${inPause.length} with requests inside their pause`,
    );
    expect(inPause).toEqual([]);
    expect(most).toBeLessThanOrEqual(50);
  }, 300_000);
});
