/**
 * `kill -9` of the only worker in the middle of a chunk (a job carries many
 * rows): some of the chunk's rows are recorded, some are in flight, some not
 * started. A new worker runs the chunk again: nothing is lost, a row recorded
 * before the kill is never sent again, and a row whose request was out at the
 * kill is flagged if Paywint made a second link for it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.js';
import { kill9, startWorkerProcess, waitFor } from '../helpers/processes.js';
import { API_KEY, API_SECRET, BatchProbe, checkAgainstLedger, collect, invoiceNumber, linksByInvoice, paylinksEnv, queueCounts, submit, useWorkspace, writeInvoiceFile } from './support.js';

const ws = useWorkspace('chunk', 'chunk');

describe('a worker killed mid-chunk', () => {
  it('loses no row and sends no recorded row again: the chunk runs again from what Redis holds', async () => {
    const redisUrl = testRedisUrl();
    // 320 rows: chunks of 20, so the kill lands inside chunks with rows done, in flight and not started.
    const rows = 320;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 150, jitterMs: 50 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_RATE_LIMIT: '60', PAYLINKS_CONCURRENCY: '6' } });
    const file = await writeInvoiceFile(ws.dir, 'chunk.csv', rows);
    const probe = new BatchProbe(redisUrl, ws.prefix);
    try {
      const first = await startWorkerProcess(env, 'worker#1');
      const batchId = await submit(file, env);
      await waitFor(() => sim.ledger().length >= 30, '30 links', 60_000, 20);
      await waitFor(async () => (await probe.claimsInFlight()) >= 3, 'requests in flight', 20_000, 10);
      const exit = await kill9(first);
      expect(exit.signal).toBe('SIGKILL');
      // What was recorded when the worker died: those rows must never be sent again.
      const recordedBefore = await probe.createdLinks(batchId, rows);
      expect(recordedBefore.size, 'the kill came mid-batch').toBeLessThan(rows);
      expect(recordedBefore.size).toBeGreaterThan(0);

      await startWorkerProcess(env, 'worker#2');
      const collected = await collect(batchId, path.join(ws.dir, 'chunk.out.csv'), env, 150_000);

      expect(collected.code, collected.stderr).toBe(0);
      expect(collected.rows).toHaveLength(rows);
      expect(collected.rows.map((r) => r.status)).toEqual(Array(rows).fill('created'));
      checkAgainstLedger(collected.rows, sim);
      // Invoices with two links are those in flight at the kill (sent, or answered and not yet recorded:
      // at most twice the concurrency), each flagged.
      const links = linksByInvoice(sim);
      const twice = [...links.entries()].filter(([, ids]) => ids.length > 1).map(([invoice]) => invoice);
      expect(twice.length).toBeLessThanOrEqual(12);
      const byInvoice = new Map(collected.rows.map((r) => [r.invoice_number, r]));
      for (const invoice of twice) expect(byInvoice.get(invoice)?.error_code).toBe('POSSIBLE_DUPLICATE_LINK');
      // A row recorded before the kill keeps its link, and its invoice was never sent again.
      for (const [row, paymentId] of recordedBefore) {
        const invoice = invoiceNumber(row + 1);
        expect(links.get(invoice), `invoice ${invoice}, recorded before the kill`).toEqual([paymentId]);
        expect(byInvoice.get(invoice)?.payment_id).toBe(paymentId);
      }
      expect(sim.ledger().length).toBe(rows + twice.length);

      const counts = await queueCounts(redisUrl, ws.prefix);
      expect(counts).toMatchObject({ active: 0, wait: 0, delayed: 0, failed: 0 });
      expect(await probe.claimsInFlight()).toBe(0);
      expect((await probe.batch(batchId))?.state).toBe('completed');
    } finally {
      probe.close();
    }
  }, 180_000);
});
