/**
 * SIGTERM to a `paylinks worker` mid-batch: it exits 143 within its bound
 * (timeout + 5 s), the requests it had in flight are finished and recorded
 * (nothing left hanging), and a restarted worker completes the batch without
 * creating anything twice.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.js';
import { startWorkerProcess, waitFor } from '../helpers/processes.js';
import { API_KEY, API_SECRET, BatchProbe, collect, expectEveryRowCreatedOnce, paylinksEnv, queueCounts, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('sigterm', 'term');

describe('SIGTERM to a worker mid-batch', () => {
  it('exits 143 in bounded time after finishing its requests in flight; a new worker completes the batch, nothing twice', async () => {
    const redisUrl = testRedisUrl();
    const rows = 40;
    const timeoutMs = 5_000;
    // Slow answers: at the signal, several requests are surely in flight.
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 1_500 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_RATE_LIMIT: '20', PAYLINKS_CONCURRENCY: '5', PAYLINKS_TIMEOUT_MS: String(timeoutMs) } });
    const file = await writeInvoiceFile(ws.dir, 'term.csv', rows);
    const probe = new BatchProbe(redisUrl, ws.prefix);
    try {
      const worker = await startWorkerProcess(env, 'worker#1');
      const batchId = await submit(file, env);
      await waitFor(() => sim.ledger().length >= 5, '5 links', 60_000, 20);
      await waitFor(async () => (await probe.claimsInFlight()) >= 3, 'requests in flight', 20_000, 10);
      const requestsAtSignal = sim.stats().requests;
      const answeredAtSignal = sim.stats().byStatus['200'] ?? 0;

      const signalled = Date.now();
      worker.signal('SIGTERM');
      const exit = await worker.exited;
      const shutdownMs = Date.now() - signalled;

      expect(exit.code).toBe(143);
      expect(shutdownMs).toBeLessThan(timeoutMs + 5_000 + 3_000);
      expect(worker.stderr()).toContain('stopping: finishing the requests in flight');
      // Requests out at the signal were waited for (answered, not cut) and their links recorded:
      // every link the simulator made is a created row, and no claim is left with a request in flight.
      const links = sim.ledger().length;
      const answered = sim.stats().byStatus['200'] ?? 0;
      expect(answered).toBeGreaterThan(answeredAtSignal);
      expect(answered).toBe(links);
      expect(sim.stats().requests - requestsAtSignal, 'no request started after the signal beyond those in flight').toBeLessThanOrEqual(5);
      expect(await probe.createdRows(batchId), 'links Paywint made during shutdown are recorded as created rows').toBe(links);
      expect(await probe.claimsInFlight()).toBe(0);
      expect((await queueCounts(redisUrl, ws.prefix)).active).toBe(0);
      expect(links).toBeLessThan(rows);

      // A new worker finishes the rest.
      await startWorkerProcess(env, 'worker#2');
      const collected = await collect(batchId, path.join(ws.dir, 'term.out.csv'), env);

      expectEveryRowCreatedOnce(collected, sim, rows);
      expect(new Set(sim.ledger().map((e) => e.invoiceNumber)).size).toBe(rows);
      console.info(`[SIGTERM] exit ${exit.code} after ${shutdownMs} ms; ${answered - answeredAtSignal} requests finished during shutdown`);
    } finally {
      probe.close();
    }
  }, 180_000);
});
