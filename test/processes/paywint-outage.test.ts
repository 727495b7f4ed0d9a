/**
 * Paywint down for a while (every request answered 500 or 503). Rows wait,
 * retrying with backoff, and succeed once it is back; if it stays down past
 * PAYLINKS_RETRY_WINDOW_MS, they fail then (not before), with the last
 * error code in the output.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { testRedisUrl } from '../helpers/redis.js';
import { startWorkerProcess, waitFor } from '../helpers/processes.js';
import { closedPortUrl } from '../helpers/simulator.js';
import { API_KEY, API_SECRET, BatchProbe, checkAgainstLedger, collect, paylinksEnv, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('outage', 'down');

function serverErrors(s: SimulatorHandle): number {
  const { byStatus } = s.stats();
  return (byStatus['500'] ?? 0) + (byStatus['503'] ?? 0);
}

describe('Paywint down for a while', () => {
  it('rows retry with backoff through a 4 s outage and then succeed, once each', async () => {
    const redisUrl = testRedisUrl();
    const rows = 10;
    const outageMs = 4_000;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, errorRate: 1 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_MAX_ATTEMPTS: '30', PAYLINKS_RATE_LIMIT: '100', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'outage.csv', rows);
    await startWorkerProcess(env, 'worker#1');

    const batchId = await submit(file, env);
    await waitFor(() => sim.stats().requests > 0, 'the first request', 30_000, 20);
    const downSince = Date.now();
    await new Promise((r) => setTimeout(r, outageMs));
    const duringOutage = sim.stats().requests;
    sim.setFaults({ errorRate: 0 });
    const collected = await collect(batchId, path.join(ws.dir, 'outage.out.csv'), env);

    expect(collected.code, collected.stderr).toBe(0);
    expect(collected.rows).toHaveLength(rows);
    expect(collected.rows.every((r) => r.status === 'created' && r.error_code === '')).toBe(true);
    // Every row tried during the outage and got through after it.
    expect(collected.rows.every((r) => Number(r.attempts) >= 3)).toBe(true);
    expect(sim.ledger()).toHaveLength(rows);
    checkAgainstLedger(collected.rows, sim);
    expect(sim.ledger().every((e) => Date.parse(e.createdAt) >= downSince + outageMs - 100)).toBe(true);
    // Backoff, not a hammering: 4 s at 100 req/s would allow 400 requests. In-job retries
    // (200 ms, 400 ms) then BullMQ's 1 s, 2 s between runs: about 3 per run, 2 or 3 runs per row.
    expect(duringOutage).toBeLessThanOrEqual(rows * 10);
    expect(serverErrors(sim)).toBe(sim.stats().requests - rows);
    const attempts = collected.rows.reduce((sum, r) => sum + Number(r.attempts), 0);
    expect(attempts).toBe(sim.stats().requests);
  }, 120_000);

  it('with Paywint down throughout, rows fail only once the retry window is over, with the last error code', async () => {
    const redisUrl = testRedisUrl();
    const rows = 10;
    const windowMs = 3_000;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, errorRate: 1 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_RETRY_WINDOW_MS: String(windowMs), PAYLINKS_MAX_ATTEMPTS: '50', PAYLINKS_RATE_LIMIT: '100' } });
    const file = await writeInvoiceFile(ws.dir, 'down.csv', rows);
    await startWorkerProcess(env, 'worker#1');
    const probe = new BatchProbe(redisUrl, ws.prefix);
    try {
      const batchId = await submit(file, env);
      // Watch when the first row fails.
      let firstFailureAt = 0;
      await waitFor(
        async () => {
          const b = await probe.batch(batchId);
          if (firstFailureAt === 0 && (b?.counts.failed ?? 0) > 0) firstFailureAt = Date.now();
          return b !== undefined && b.done >= rows;
        },
        'every row to fail',
        90_000,
        50,
      );
      const firstRequestAt = sim.stats().requestTimesMs[0]!;
      const collected = await collect(batchId, path.join(ws.dir, 'down.out.csv'), env);

      // The window starts when the worker begins the first attempt, a moment before the simulator sees it
      // (longer on a loaded machine): allow that moment.
      expect(firstFailureAt - firstRequestAt, 'no row fails before the window is over').toBeGreaterThanOrEqual(windowMs - 250);
      expect(collected.code).toBe(1);
      expect(collected.rows).toHaveLength(rows);
      for (const row of collected.rows) {
        expect(row.status).toBe('failed');
        expect(row.error_code).toBe('PAYWINT_SERVER_ERROR');
        // Either the last answer itself, or the give-up note of a row that found its window over.
        expect(row.error_message).toMatch(/^Paywint answered 50[03] |retry window/);
        // More than one run (so more than the 3 requests of one), far fewer than the 50 allowed.
        expect(Number(row.attempts)).toBeGreaterThan(3);
        expect(Number(row.attempts)).toBeLessThan(50);
        expect(row.payment_id).toBe('');
      }
      expect(sim.ledger()).toHaveLength(0);
      expect(collected.stdout).toMatch(/failed/);
    } finally {
      probe.close();
    }
  }, 120_000);

  it('with Paywint unreachable throughout, rows fail after the window with the last error code, PAYWINT_NETWORK', async () => {
    const redisUrl = testRedisUrl();
    const rows = 5;
    const windowMs = 3_000;
    const env = paylinksEnv({
      redisUrl,
      prefix: ws.prefix,
      sim: { url: await closedPortUrl() },
      extra: { PAYLINKS_RETRY_WINDOW_MS: String(windowMs), PAYLINKS_MAX_ATTEMPTS: '50', PAYLINKS_RATE_LIMIT: '100' },
    });
    const file = await writeInvoiceFile(ws.dir, 'unreachable.csv', rows);
    await startWorkerProcess(env, 'worker#1');
    const batchId = await submit(file, env);
    const collected = await collect(batchId, path.join(ws.dir, 'unreachable.out.csv'), env);

    expect(collected.code).toBe(1);
    expect(collected.rows).toHaveLength(rows);
    for (const row of collected.rows) {
      expect(row.status).toBe('failed');
      expect(Number(row.attempts)).toBeGreaterThan(3);
      // What the user needs to act on: Paywint could not be reached (nothing was sent), not a server error.
      expect({ code: row.error_code, message: row.error_message }).toEqual({ code: 'PAYWINT_NETWORK', message: expect.stringMatching(/Could not reach Paywint/) });
    }
  }, 120_000);
});
