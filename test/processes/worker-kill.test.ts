/**
 * `kill -9` of `paylinks worker` processes in the middle of a batch, several
 * times, each followed by a restart: the batch still completes, no row is
 * lost, nothing stays active, and the simulator holds one link per invoice
 * unless the output flags the row.
 *
 * A killed worker's rows come back once BullMQ's lock on them expires and a
 * stalled check runs: within about twice PAYLINKS_LOCK_DURATION_MS (5 s here,
 * see support.ts; a minute with the 30 s default).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.js';
import { kill9, startWorkerProcess, waitFor, type SpawnedProcess } from '../helpers/processes.js';
import { API_KEY, API_SECRET, BatchProbe, checkAgainstLedger, collect, paylinksEnv, queueCounts, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('kill', 'kill');

describe('kill -9 of workers mid-batch', () => {
  it('loses no row: the batch completes with one link per invoice unless flagged, after 4 kills and restarts', async () => {
    const redisUrl = testRedisUrl();
    const rows = 400;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 50, jitterMs: 50 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_RATE_LIMIT: '40', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'kill.csv', rows);
    const probe = new BatchProbe(redisUrl, ws.prefix);
    try {
      const workers: SpawnedProcess[] = [await startWorkerProcess(env, 'worker#1'), await startWorkerProcess(env, 'worker#2')];
      const batchId = await submit(file, env);

      const kills = 4;
      for (let k = 0; k < kills; k += 1) {
        const slot = k % workers.length;
        // Kill while requests are out, so that some kills land mid-request.
        await waitFor(() => sim.ledger().length >= ((k + 1) * rows) / 8, `${((k + 1) * rows) / 8} links`, 60_000, 20);
        await waitFor(async () => (await probe.claimsInFlight()) >= 3, 'requests in flight', 20_000, 10);
        const exit = await kill9(workers[slot]!);
        expect(exit.signal).toBe('SIGKILL');
        workers[slot] = await startWorkerProcess(env, `worker#${k + 3}`);
      }
      expect(sim.ledger().length, 'the kills came before the end of the batch').toBeLessThan(rows);

      const collected = await collect(batchId, path.join(ws.dir, 'kill.out.csv'), env, 150_000);

      expect(collected.code, collected.stderr).toBe(0);
      expect(collected.rows).toHaveLength(rows);
      expect(collected.rows.map((r) => r.status)).toEqual(Array(rows).fill('created'));
      expect(new Set(collected.rows.map((r) => r.payment_id)).size).toBe(rows);
      const check = checkAgainstLedger(collected.rows, sim);
      // Kills landed mid-request: those rows came back and say so.
      expect(check.flagged).toBeGreaterThanOrEqual(1);
      expect(new Set(sim.ledger().map((e) => e.invoiceNumber)).size).toBe(rows);

      // Nothing left active, waiting or failed in BullMQ; no claim left hanging.
      const counts = await queueCounts(redisUrl, ws.prefix);
      expect(counts).toMatchObject({ active: 0, wait: 0, delayed: 0, prioritized: 0, failed: 0 });
      expect(await probe.claimsInFlight()).toBe(0);
      const batch = await probe.batch(batchId);
      expect(batch?.state).toBe('completed');
      expect(batch?.counts.created).toBe(rows);
      console.info(
        `[kill -9] ${kills} kills, ${rows} rows, ${sim.ledger().length} links at the simulator, ${check.duplicated.length} invoices with 2+ links, ${check.flagged} rows flagged`,
      );
    } finally {
      probe.close();
    }
  }, 240_000);
});
