/**
 * The batch commands as library functions, on real Redis and the simulator:
 * submit, status, cancel, collect, retry, and the worker service's
 * /healthz and /metrics.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBackend, type Backend } from '../../src/pipeline/backend.js';
import { cancelBatch } from '../../src/pipeline/cancel.js';
import { waitForBatch, writeBatchOutput } from '../../src/pipeline/collector.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { submitFile } from '../../src/pipeline/producer.js';
import { retryFailedRows } from '../../src/pipeline/retry-rows.js';
import { releaseBatch } from '../../src/pipeline/hold.js';
import { readRowErrors } from '../../src/pipeline/row-errors.js';
import { runWorkerService } from '../../src/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { getBatchStatus, listRecentBatches, statusToJson } from '../../src/pipeline/status.js';
import { startWorker } from '../../src/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '0d4b6f3c-2b1a-4c8e-9f7d-6e5a4b3c2d1e';
const API_SECRET = 'commands-test-secret';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let backend: Backend;
let config: Config;

function invoices(n: number): [string, string, string][] {
  return Array.from({ length: n }, (_, i) => [`CMD-${i + 1}`, `${i + 1}.50`, `Invoice ${i + 1}`]);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-commands-'));
  prefix = uniquePrefix('cmd');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  config = loadConfig({
    dotenvPath: false,
    env: {
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      REDIS_URL: testRedisUrl(),
      PAYLINKS_PREFIX: prefix,
      PAYLINKS_RATE_LIMIT: '500',
      PAYLINKS_METRICS_PORT: '0',
    },
  });
  backend = await openBackend({ config, logger: silentLogger() });
});

afterEach(async (context) => {
  await backend.close();
  await sim.close();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

async function submit(rows: [string, string, string][]) {
  const file = path.join(dir, 'batch.csv');
  await writeInvoices(file, rows);
  return submitFile(file, { redis: backend.redis, store: backend.store, queue: backend.queue, account: API_KEY, logger: silentLogger() });
}

/** A worker on the test's simulator; `settings` override the configuration (e.g. `{ maxAttempts: 1 }`). */
function worker(settings: Partial<Config> = {}) {
  return startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: API_SECRET }, baseUrl: sim.url, settings: { ...config, ...settings }, logger: silentLogger() });
}

describe('submit, status, cancel, collect', () => {
  it('a submitted batch waits for workers; cancelling it reports every row as cancelled and it can still be collected', async () => {
    const submitted = await submit([...invoices(5), ['', '1.00', 'no invoice']]);
    expect(submitted).toMatchObject({ rows: 6, valid: 5, invalid: 1, resumed: false });

    const before = statusToJson(await getBatchStatus(backend.store, submitted.batchId));
    expect(before).toMatchObject({ id: submitted.batchId, state: 'queued', rows: 6, done: 1, file: 'batch.csv' });
    expect((await listRecentBatches(backend.store)).map((b) => b.id)).toEqual([submitted.batchId]);

    const cancelled = await cancelBatch(backend.store, backend.queue, submitted.batchId);
    expect(cancelled).toEqual({ batchId: submitted.batchId, state: 'cancelled', cancelledRows: 5 });
    expect(await backend.queue.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 0, delayed: 0, active: 0 });
    const again = await cancelBatch(backend.store, backend.queue, submitted.batchId);
    expect(again.cancelledRows).toBe(0);

    const batch = await waitForBatch(backend.store, submitted.batchId);
    expect(batch.state).toBe('cancelled');
    const out = path.join(dir, 'cancelled.out.csv');
    await writeBatchOutput(backend.store, submitted.batchId, out);
    const rows = (await readOutputCsv(out)).rows;
    expect(rows.map((r) => [r.status, r.error_code])).toEqual([...Array(5).fill(['failed', 'BATCH_CANCELLED']), ['invalid', 'MISSING_INVOICE_NUMBER']]);
    expect(sim.ledger()).toHaveLength(0);
  });

  it('cancelling mid-batch keeps what was created', async () => {
    const submitted = await submit(invoices(60));
    const w = await startWorker({
      redisUrl: testRedisUrl(),
      credentials: { apiKey: API_KEY, apiSecret: API_SECRET },
      baseUrl: sim.url,
      settings: { ...config, rateLimit: 20 },
      logger: silentLogger(),
    });
    await expect.poll(async () => (await backend.store.get(submitted.batchId))?.counts.created ?? 0, { timeout: 10_000 }).toBeGreaterThan(3);
    const result = await cancelBatch(backend.store, backend.queue, submitted.batchId);
    const batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();

    expect(batch.state).toBe('cancelled');
    expect(result.cancelledRows).toBeGreaterThan(20);
    expect(batch.counts.created + batch.counts.failed).toBe(60);
    expect(batch.counts.failed).toBeGreaterThanOrEqual(result.cancelledRows);
    const created = sim.ledger();
    expect(created).toHaveLength(batch.counts.created);
    expect(new Set(created.map((e) => e.invoiceNumber)).size).toBe(created.length);
  });
});

describe('retry', () => {
  it('queues only the failed rows again; the second pass creates them once', async () => {
    sim.setFaults({ errorRate: 1 });
    const submitted = await submit([...invoices(4), ['CMD-1', '1.50', 'duplicate']]);
    const failing = await worker({ maxAttempts: 1 });
    let batch = await waitForBatch(backend.store, submitted.batchId);
    await failing.close();
    expect(batch.state).toBe('completed_with_errors');
    expect(batch.counts).toMatchObject({ failed: 4, duplicate: 1 });

    sim.setFaults({ errorRate: 0 });
    expect(await retryFailedRows(backend.store, backend.queue, submitted.batchId)).toEqual({ batchId: submitted.batchId, requeued: 4, unknownLeft: 0 });
    expect((await backend.store.get(submitted.batchId))?.state).toBe('running');
    const w = await worker();
    batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();

    expect(batch.counts).toMatchObject({ created: 4, failed: 0, duplicate: 1 });
    expect(batch.state).toBe('completed_with_errors'); // the duplicate stays
    expect(sim.ledger().map((e) => e.invoiceNumber).sort()).toEqual(['CMD-1', 'CMD-2', 'CMD-3', 'CMD-4']);
    expect(await retryFailedRows(backend.store, backend.queue, submitted.batchId)).toEqual({ batchId: submitted.batchId, requeued: 0, unknownLeft: 0 });
  });
});

describe('a stored row the checks refuse when its job runs', () => {
  it('is recorded as invalid with its code, never skipped: the batch still finishes, the other rows get their links', async () => {
    const file = path.join(dir, 'held.csv');
    await writeInvoices(file, invoices(3));
    const held = await submitFile(file, { redis: backend.redis, store: backend.store, queue: backend.queue, account: API_KEY, logger: silentLogger(), hold: true, holdTtlSeconds: 3600 });
    // The stored cells of CMD-2 no longer pass the checks (as a stored row and the checks could come to disagree).
    const rowsKey = new Keys(prefix).batchRows(held.batchId);
    const stored = (await backend.redis.lindex(rowsKey, 1))!;
    expect(stored).toContain('2.50');
    await backend.redis.lset(rowsKey, 1, stored.replace('2.50', 'abc'));
    await releaseBatch(backend.store, backend.queue, held.batchId);
    const w = await worker();
    const batch = await waitForBatch(backend.store, held.batchId, { signal: AbortSignal.timeout(20_000) });
    await w.close();
    expect(batch.counts).toMatchObject({ created: 2, invalid: 1 });
    const out = path.join(dir, 'held.out.csv');
    await writeBatchOutput(backend.store, held.batchId, out);
    const { rows } = await readOutputCsv(out);
    expect(rows.map((r) => [r.invoice_number, r.status, r.error_code])).toEqual([
      ['CMD-1', 'created', ''],
      ['CMD-2', 'invalid', 'INVALID_AMOUNT'],
      ['CMD-3', 'created', ''],
    ]);
    expect(sim.ledger().map((e) => e.invoiceNumber).sort()).toEqual(['CMD-1', 'CMD-3']);
  });
});

describe('retry after a 401', () => {
  it('sends the rows the stopped batch never sent, and the refused ones, once each', async () => {
    const submitted = await submit(invoices(300));
    const refused = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: 'a-secret-paywint-refuses' }, baseUrl: sim.url, settings: config, logger: silentLogger() });
    let batch = await waitForBatch(backend.store, submitted.batchId);
    await refused.close();
    expect(batch).toMatchObject({ state: 'failed', stopCode: 'BATCH_STOPPED_AUTH', done: 300, counts: { failed: 300 } });

    expect(await retryFailedRows(backend.store, backend.queue, submitted.batchId)).toEqual({ batchId: submitted.batchId, requeued: 300, unknownLeft: 0 });
    const w = await worker();
    batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();

    expect(batch).toMatchObject({ state: 'completed', stopCode: null, counts: { created: 300, failed: 0 } });
    expect(batch.expiresAt).not.toBeNull();
    expect(sim.ledger()).toHaveLength(300);
    expect(new Set(sim.ledger().map((e) => e.invoiceNumber)).size).toBe(300);
  });
});

describe('retry after unknown outcomes', () => {
  it('a row that failed after a request went unanswered keeps that history: its retried link is flagged', async () => {
    // Every create request is carried out, then its connection dropped: a link exists, the worker cannot know.
    sim.setFaults({ dropRate: 1 });
    const submitted = await submit(invoices(1));
    const failing = await worker({ maxAttempts: 1 });
    let batch = await waitForBatch(backend.store, submitted.batchId);
    await failing.close();
    expect(batch.counts.failed).toBe(1);
    expect(sim.ledger()).toHaveLength(1);

    sim.setFaults({ dropRate: 0 });
    await retryFailedRows(backend.store, backend.queue, submitted.batchId);
    const w = await worker();
    batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();
    const out = path.join(dir, 'retried.out.csv');
    await writeBatchOutput(backend.store, submitted.batchId, out);
    const {
      rows: [row],
    } = await readOutputCsv(out);

    // Paywint now holds two links for CMD-1; the row says so instead of passing for a clean one.
    expect(sim.ledger().filter((e) => e.invoiceNumber === 'CMD-1')).toHaveLength(2);
    expect(row).toMatchObject({ status: 'created', error_code: 'POSSIBLE_DUPLICATE_LINK' });
    expect(row!.error_message).toMatch(/^1 earlier request for this invoice got no clear answer/);
  });
});

describe('Redis refusing a write', () => {
  it('a link Paywint made is recorded once Redis takes writes again: one link, no failed row', async () => {
    sim.setFaults({ latencyMs: 600 });
    const submitted = await submit(invoices(1));
    const w = await worker();
    // While the request is out, make the row's results key unwritable (WRONGTYPE, like a READONLY failover).
    const resultsKey = new Keys(prefix).batchResults(submitted.batchId);
    while (sim.stats().requests === 0) await sleep(20);
    await backend.redis.set(resultsKey, 'not a hash');
    await sleep(1_500);
    await backend.redis.del(resultsKey);
    const batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();

    expect(sim.ledger()).toHaveLength(1);
    expect(batch).toMatchObject({ state: 'completed', counts: { created: 1 } });
    const [result] = await backend.store.readResults(submitted.batchId, 0, 1);
    expect(result).toMatchObject({ status: 'created', paymentId: sim.ledger()[0]!.paymentId, errorCode: null, attempts: 1 });
  });
});

describe('accounts', () => {
  it("a worker with another account's key sends nothing for the batch and says why", async () => {
    const submitted = await submit(invoices(3));
    const otherKey = '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f';
    const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: otherKey, apiSecret: 'other-secret' }, baseUrl: sim.url, settings: config, logger: silentLogger() });
    const batch = await waitForBatch(backend.store, submitted.batchId);
    await w.close();
    const out = path.join(dir, 'other.out.csv');
    await writeBatchOutput(backend.store, submitted.batchId, out);
    const { rows } = await readOutputCsv(out);

    expect(sim.stats().requests).toBe(0);
    expect(batch).toMatchObject({ state: 'completed_with_errors', counts: { failed: 3 } });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'failed', error_code: 'ACCOUNT_MISMATCH', payment_link: '' });
      expect(row.error_message).toContain(`submitted for Paywint API key …${API_KEY.slice(-4)}, this worker runs with …${otherKey.slice(-4)}`);
    }
  });
});

describe('worker service', () => {
  it('serves /healthz and /metrics while it works, and stops when asked', async () => {
    const submitted = await submit(invoices(10));
    let release!: () => void;
    const stop = new Promise<void>((resolve) => {
      release = resolve;
    });
    let port = 0;
    const ready = new Promise<void>((resolve) => {
      void runWorkerService({ config, logger: silentLogger(), stop, onReady: (info) => ((port = info.metricsPort), resolve()) }).then(() => (port = -1));
    });
    await ready;
    await waitForBatch(backend.store, submitted.batchId);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/paylinks_paywint_requests_total\{outcome="created"\} 10/);
    expect(metrics).toContain(`paylinks_batch_rows{batch="${submitted.batchId}",status="created"} 10`);
    expect(metrics).toMatch(/paylinks_jobs\{state="waiting"\} 0/);
    expect(metrics).not.toContain(API_SECRET);

    release();
    await expect.poll(() => port, { timeout: 20_000 }).toBe(-1);
  });
});

const ROWS = 10_000;
const LARGE: Partial<Config> = { rateLimit: 1000, concurrency: 20 };

/** A file of ROWS valid invoices and one invalid row at the end. */
async function submitLarge() {
  const file = path.join(dir, 'large.csv');
  const lines = ['invoice_number,amount,description'];
  for (let i = 1; i <= ROWS; i += 1) lines.push(`LG-${i},${(i % 500) + 1}.25,Invoice ${i}`);
  lines.push(',1.00,no invoice number');
  await writeFile(file, `${lines.join('\n')}\n`);
  return submitFile(file, { redis: backend.redis, store: backend.store, queue: backend.queue, account: API_KEY, logger: silentLogger() });
}

async function outputOf(batchId: string) {
  const out = path.join(dir, 'large.out.csv');
  await writeBatchOutput(backend.store, batchId, out);
  return (await readOutputCsv(out)).rows;
}

/**
 * Stopping a large batch: a cancel of a batch nobody works on, and a 401 in
 * the middle of one. The batch's state accounts for every row without a
 * result, so the status and the output show every row at once, and the
 * queue is left empty; no row is touched one by one.
 */
describe('a large batch', () => {
  it('cancelled before any worker came: status and output account for every row at once, the queue is empty', async () => {
    const submitted = await submitLarge();
    expect(submitted.valid).toBe(ROWS);

    const cancelled = await cancelBatch(backend.store, backend.queue, submitted.batchId);

    expect(cancelled).toEqual({ batchId: submitted.batchId, state: 'cancelled', cancelledRows: ROWS });
    // Finished at once: one finish event (for the notifications), recorded by the cancel itself, and only one.
    const events = async () => (await backend.store.pendingFinishes(100)).filter((e) => e.batchId === submitted.batchId);
    expect(await events()).toEqual([{ eventId: `${submitted.batchId}-f1`, batchId: submitted.batchId }]);
    const { batch } = await getBatchStatus(backend.store, submitted.batchId);
    expect(batch).toMatchObject({ state: 'cancelled', done: ROWS + 1, counts: { failed: ROWS, invalid: 1, created: 0 } });
    expect(await backend.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')).toEqual({ waiting: 0, delayed: 0, active: 0, prioritized: 0 });
    // Nothing was written row by row: the results hold only the invalid row recorded at submission.
    expect(await backend.redis.hlen(backend.keys.batchResults(submitted.batchId))).toBe(1);

    const rows = await outputOf(submitted.batchId);
    expect(rows).toHaveLength(ROWS + 1);
    expect(rows.slice(0, ROWS).every((r) => r.status === 'failed' && r.error_code === 'BATCH_CANCELLED' && r.error_message === 'not sent: the batch was cancelled')).toBe(true);
    // The row errors (the page's and the API's) list them as the output does.
    const page = await readRowErrors(backend.store, submitted.batchId, { from: 0, limit: 100 });
    expect(page.errors).toHaveLength(100);
    expect(page.errors[0]).toEqual({ line: 2, invoice_number: expect.any(String) as string, status: 'failed', code: 'BATCH_CANCELLED', message: 'not sent: the batch was cancelled' });
    expect(page.next).toBe(100);
    expect(rows[ROWS]).toMatchObject({ status: 'invalid', error_code: 'MISSING_INVOICE_NUMBER' });
    // A worker that comes later sends nothing.
    const w = await worker(LARGE);
    await sleep(300);
    await w.close();
    expect(sim.stats().requests).toBe(0);
  }, 60_000);

  it('stopped by a 401: a handful of requests, then every row accounted, the queue emptied', async () => {
    const submitted = await submitLarge();
    const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: 'a-secret-paywint-refuses' }, baseUrl: sim.url, settings: { ...config, ...LARGE }, logger: silentLogger() });
    const events = async () => (await backend.store.pendingFinishes(100)).filter((e) => e.batchId === submitted.batchId);
    let batch;
    try {
      // Nobody reads the batch meanwhile: the worker whose chunk lets the last row in flight go records the finish event.
      await expect.poll(events, { timeout: 30_000, interval: 50 }).toHaveLength(1);
      batch = await waitForBatch(backend.store, submitted.batchId, { pollMs: 50 });
    } finally {
      await w.close();
    }
    expect(await events()).toEqual([{ eventId: `${submitted.batchId}-f1`, batchId: submitted.batchId }]);

    expect(batch).toMatchObject({ state: 'failed', stopCode: 'BATCH_STOPPED_AUTH', done: ROWS + 1, counts: { failed: ROWS, invalid: 1 } });
    expect(sim.stats().requests).toBeLessThanOrEqual(25);
    expect(sim.ledger()).toHaveLength(0);
    expect(await backend.queue.getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });
    const rows = await outputOf(submitted.batchId);
    expect(rows).toHaveLength(ROWS + 1);
    const refused = rows.filter((r) => r.error_code === 'PAYWINT_AUTH');
    const stopped = rows.filter((r) => r.error_code === 'BATCH_STOPPED_AUTH');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length + stopped.length).toBe(ROWS);
    expect(stopped.every((r) => r.status === 'failed' && /^not sent: the batch stopped \(Paywint refused the credentials/.test(r.error_message ?? ''))).toBe(true);
  }, 60_000);
});
