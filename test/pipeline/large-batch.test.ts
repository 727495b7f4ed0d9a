/**
 * Stopping a large batch: a cancel of a batch nobody works on, and a 401 in
 * the middle of one. The batch's state accounts for every row without a
 * result, so the status and the output show every row at once, and the
 * queue is left empty; no row is touched one by one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBackend, type Backend } from '../../src/pipeline/backend.js';
import { cancelBatch } from '../../src/pipeline/cancel.js';
import { waitForBatch, writeBatchOutput } from '../../src/pipeline/collector.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { submitFile } from '../../src/pipeline/producer.js';
import { getBatchStatus } from '../../src/pipeline/status.js';
import { startWorker } from '../../src/pipeline/worker.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/simulator.js';
import { readOutputCsv } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const API_SECRET = 'large-batch-secret';
const ROWS = 20_000;

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let backend: Backend;
let config: Config;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-large-'));
  prefix = uniquePrefix('large');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  config = loadConfig({
    dotenvPath: false,
    env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url, REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '1000', PAYLINKS_CONCURRENCY: '20' },
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

describe('a large batch', () => {
  it('cancelled before any worker came: status and output account for every row at once, the queue is empty', async () => {
    const submitted = await submitLarge();
    expect(submitted.valid).toBe(ROWS);

    const cancelled = await cancelBatch(backend.store, backend.queue, submitted.batchId);

    expect(cancelled).toEqual({ batchId: submitted.batchId, state: 'cancelled', cancelledRows: ROWS });
    const { batch } = await getBatchStatus(backend.store, submitted.batchId);
    expect(batch).toMatchObject({ state: 'cancelled', done: ROWS + 1, counts: { failed: ROWS, invalid: 1, created: 0 } });
    expect(await backend.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')).toEqual({ waiting: 0, delayed: 0, active: 0, prioritized: 0 });
    // Nothing was written row by row: the results hold only the invalid row recorded at submission.
    expect(await backend.redis.hlen(backend.keys.batchResults(submitted.batchId))).toBe(1);

    const rows = await outputOf(submitted.batchId);
    expect(rows).toHaveLength(ROWS + 1);
    expect(rows.slice(0, ROWS).every((r) => r.status === 'failed' && r.error_code === 'BATCH_CANCELLED' && r.error_message === 'not sent: the batch was cancelled')).toBe(true);
    expect(rows[ROWS]).toMatchObject({ status: 'invalid', error_code: 'MISSING_INVOICE_NUMBER' });
    // A worker that comes later sends nothing.
    const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: API_SECRET }, baseUrl: sim.url, settings: config, logger: silentLogger() });
    await new Promise((r) => setTimeout(r, 300));
    await w.close();
    expect(sim.stats().requests).toBe(0);
  }, 60_000);

  it('stopped by a 401: a handful of requests, then every row accounted, the queue emptied', async () => {
    const submitted = await submitLarge();
    const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: 'a-secret-paywint-refuses' }, baseUrl: sim.url, settings: config, logger: silentLogger() });
    let batch;
    try {
      batch = await waitForBatch(backend.store, submitted.batchId, { pollMs: 50 });
    } finally {
      await w.close();
    }

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
