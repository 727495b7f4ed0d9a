/**
 * Unknown outcomes: Paywint creates the link but the answer never comes (a
 * hang, cut short by PAYLINKS_TIMEOUT_MS) or the connection is cut. The
 * row is retried, and every invoice that ended up with two links at the
 * simulator is flagged in the output: never two links silently.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.js';
import { startWorkerProcess } from '../helpers/processes.js';
import { API_KEY, API_SECRET, checkAgainstLedger, collect, isFlagged, linksByInvoice, paylinksEnv, submit, writeInvoiceFile, useWorkspace } from './support.js';

const ws = useWorkspace('unknown', 'unk');

describe('requests whose outcome is unknown', () => {
  it('flags every invoice that got a second link (hangs and dropped connections), with attempts > 1', async () => {
    const redisUrl = testRedisUrl();
    const rows = 120;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 10, hangRate: 0.12, dropRate: 0.12, seed: 11 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_TIMEOUT_MS: '600', PAYLINKS_RATE_LIMIT: '100', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'unknown.csv', rows);
    await startWorkerProcess(env, 'worker#1');
    await startWorkerProcess(env, 'worker#2');

    const batchId = await submit(file, env);
    const collected = await collect(batchId, path.join(ws.dir, 'unknown.out.csv'), env);

    expect(collected.rows).toHaveLength(rows);
    // Both faults happened: the test is about them.
    expect(sim.stats().hung).toBeGreaterThan(3);
    expect(sim.stats().dropped).toBeGreaterThan(3);

    const check = checkAgainstLedger(collected.rows, sim);
    const links = linksByInvoice(sim);
    expect(check.duplicated.length, 'some invoices got a second link').toBeGreaterThan(3);
    for (const invoice of check.duplicated) {
      const row = collected.rows.find((r) => r.invoice_number === invoice)!;
      expect(Number(row.attempts), `attempts of ${invoice}`).toBeGreaterThanOrEqual(links.get(invoice)!.length);
      expect(Number(row.attempts)).toBeGreaterThan(1);
      if (row.status === 'created') {
        expect(row.error_code).toBe('POSSIBLE_DUPLICATE_LINK');
        expect(row.error_message).toMatch(/earlier requests? for this invoice got no clear answer \(no answer, or one without a usable link\); Paywint may hold another link/);
      } else {
        expect(row.status).toBe('failed');
        expect(isFlagged(row), JSON.stringify(row)).toBe(true);
      }
      // Never more than PAYLINKS_UNKNOWN_OUTCOME_RETRIES (1) + 1 links without a person's say-so.
      expect(links.get(invoice)!.length).toBeLessThanOrEqual(2);
    }
    // A flag is never raised without cause: a flagged row made more than one request.
    for (const row of collected.rows.filter(isFlagged)) expect(Number(row.attempts)).toBeGreaterThan(1);
    // Unflagged rows are plain: created once, on the first request or after answered failures.
    for (const row of collected.rows.filter((r) => !isFlagged(r))) {
      expect(row.status).toBe('created');
      expect(links.get(row.invoice_number!)).toEqual([row.payment_id]);
    }
    expect(collected.code).toBe(collected.rows.every((r) => r.status === 'created') ? 0 : 1);
    console.info(
      `[unknown outcomes] ${rows} rows; hung ${sim.stats().hung}, dropped ${sim.stats().dropped}; ${check.duplicated.length} invoices with 2+ links, ${check.flagged} rows flagged; statuses ${JSON.stringify(countBy(collected.rows.map((r) => r.status)))}`,
    );
  }, 180_000);

  it('a row that runs out of attempts after an unanswered request fails saying a link may exist', async () => {
    const redisUrl = testRedisUrl();
    const rows = 40;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, hangRate: 0.45, errorRate: 0.2, seed: 5 });
    const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_TIMEOUT_MS: '500', PAYLINKS_MAX_ATTEMPTS: '2', PAYLINKS_CONCURRENCY: '10' } });
    const file = await writeInvoiceFile(ws.dir, 'gives-up.csv', rows);
    await startWorkerProcess(env, 'worker#1');

    const batchId = await submit(file, env);
    const collected = await collect(batchId, path.join(ws.dir, 'gives-up.out.csv'), env);

    expect(collected.code).toBe(1);
    expect(collected.rows).toHaveLength(rows);
    const links = linksByInvoice(sim);
    // Failed rows whose invoice has a link at the simulator: the user must be told.
    const failedWithLink = collected.rows.filter((r) => r.status === 'failed' && (links.get(r.invoice_number!)?.length ?? 0) > 0);
    expect(failedWithLink.length).toBeGreaterThan(0);
    for (const row of failedWithLink) {
      expect(isFlagged(row), JSON.stringify(row)).toBe(true);
      expect(row.error_message).toMatch(/got no clear answer|the link may have been created/);
      expect(row.attempts).toBe('2');
    }
    checkAgainstLedger(collected.rows, sim);
  }, 120_000);
});

function countBy(values: readonly (string | undefined)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v ?? ''] = (counts[v ?? ''] ?? 0) + 1;
  return counts;
}
