/**
 * Several `paylinks worker` processes share one rate limit: three processes
 * at PAYLINKS_RATE_LIMIT=20 never send more than 21 requests in any one
 * second between them (as the simulator counts arrivals), and still keep
 * close to the rate.
 */
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.js';
import { startWorkerProcess } from '../helpers/processes.js';
import { API_KEY, API_SECRET, collect, paylinksEnv, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('rate', 'rate');

/** The most arrivals in any window of `windowMs` (half-open: [t, t + windowMs)). */
function maxInWindow(sortedTimesMs: readonly number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < sortedTimesMs.length; i += 1) {
    while (sortedTimesMs[i]! - sortedTimesMs[j]! >= windowMs) j += 1;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('three worker processes, one rate limit', () => {
  it('at most 21 requests in any second, at least 17/s on average, each invoice once', async () => {
    const redisUrl = testRedisUrl();
    const rows = 120;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 20, jitterMs: 20 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_RATE_LIMIT: '20', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'rate.csv', rows);
    const workers = await Promise.all([1, 2, 3].map((n) => startWorkerProcess(env, `worker#${n}`)));

    // The simulator stamps arrivals in this process: when its event loop lags, stamps are late
    // and bunch up. Windows are shortened by the worst lag, so only the workers' bunching counts.
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const batchId = await submit(file, env);
    const collected = await collect(batchId, path.join(ws.dir, 'rate.out.csv'), env);

    lag.disable();
    const stampErrorMs = Math.ceil(lag.max / 1e6);
    expect(collected.code, collected.stderr).toBe(0);
    expect(collected.rows).toHaveLength(rows);
    expect(collected.rows.every((r) => r.status === 'created' && r.attempts === '1')).toBe(true);
    const times = sim.stats().requestTimesMs.slice().sort((a, b) => a - b);
    expect(times).toHaveLength(rows);
    const most = maxInWindow(times, 1000 - stampErrorMs);
    const mostRaw = maxInWindow(times, 1000);
    const meanPerSecond = (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
    expect(most, `most requests in any ${1000 - stampErrorMs} ms window`).toBeLessThanOrEqual(21);
    expect(meanPerSecond).toBeGreaterThanOrEqual(17);
    expect(meanPerSecond).toBeLessThanOrEqual(21);
    const ledger = sim.ledger();
    expect(ledger).toHaveLength(rows);
    expect(new Set(ledger.map((e) => e.invoiceNumber)).size).toBe(rows);
    // All three took part.
    const served = workers.map((w) => metricsPortOf(w.stderr()));
    expect(served.every((port) => port > 0)).toBe(true);
    const perWorker = await Promise.all(served.map((port) => createdBy(port)));
    expect(perWorker.every((n) => n > 0), `links per worker: ${perWorker.join(', ')}`).toBe(true);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(rows);
    console.info(`[rate limit] ${rows} requests over ${((times.at(-1)! - times[0]!) / 1000).toFixed(2)} s: mean ${meanPerSecond.toFixed(2)}/s, max ${most} in any ${1000 - stampErrorMs} ms (${mostRaw} in 1 s; stamps late by up to ${stampErrorMs} ms); per worker ${perWorker.join('/')}`);
  }, 120_000);
});

/** The metrics port a worker announced in its "worker ready" line. */
function metricsPortOf(stderr: string): number {
  const m = /"metricsPort":(\d+)/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

/** `paylinks_paywint_requests_total{outcome="created"}` of one worker, from its /metrics. */
async function createdBy(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^paylinks_paywint_requests_total\{outcome="created"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
