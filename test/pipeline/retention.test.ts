/**
 * Retention: a finished batch's rows and results are removed
 * PAYLINKS_RETENTION_DAYS after it finished (here a few seconds, as a
 * fraction of a day); `status` says when, `collect` afterwards says why it
 * cannot, and the ledger is kept: the same file run again finds every link.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { PaylinksError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { openBackend } from '../../src/pipeline/backend.js';
import { writeBatchOutput } from '../../src/pipeline/collector.js';
import { runFile } from '../../src/pipeline/run.js';
import { formatStatus, getBatchStatus, statusToJson } from '../../src/pipeline/status.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/simulator.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { runCliToEnd } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e';
const API_SECRET = 'retention-secret';
const RETENTION_SECONDS = 3;

let dir: string;
let prefix: string;
let sim: SimulatorHandle;

function env(): Record<string, string> {
  return {
    PAYWINT_API_KEY: API_KEY,
    PAYWINT_API_SECRET: API_SECRET,
    PAYWINT_BASE_URL: sim.url,
    REDIS_URL: testRedisUrl(),
    PAYLINKS_PREFIX: prefix,
    PAYLINKS_RATE_LIMIT: '500',
    PAYLINKS_RETENTION_DAYS: String(RETENTION_SECONDS / 86_400),
  };
}

function config(): Config {
  return loadConfig({ dotenvPath: false, env: env() });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-retention-'));
  prefix = uniquePrefix('keep');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
});

afterEach(async (context) => {
  await sim.close();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

describe('retention of finished batches', () => {
  it('status says when the rows go; after that, collect says they are gone; the ledger stays', async () => {
    const file = path.join(dir, 'june.csv');
    await writeInvoices(file, [
      ['JUN-1', '10.00', 'one'],
      ['JUN-2', '20.00', 'two'],
      ['JUN-3', '30.00', 'three'],
    ]);
    const first = await runFile({ file, config: config(), logger: silentLogger() });
    expect(first.batch.state).toBe('completed');

    const backend = await openBackend({ config: config(), logger: silentLogger() });
    try {
      const status = await getBatchStatus(backend.store, first.batchId);
      const finishedMs = Date.parse(status.batch.finishedAt!);
      const expiresMs = Date.parse(status.batch.expiresAt!);
      expect(expiresMs - finishedMs).toBeGreaterThanOrEqual(RETENTION_SECONDS * 1000 - 50);
      expect(expiresMs - finishedMs).toBeLessThanOrEqual(RETENTION_SECONDS * 1000 + 1000);
      expect(statusToJson(status)).toMatchObject({ expires_at: status.batch.expiresAt });
      expect(formatStatus(status, finishedMs)).toContain(`rows and results kept until ${status.batch.expiresAt!.slice(0, 19).replace('T', ' ')} UTC (PAYLINKS_RETENTION_DAYS)`);

      // Gone once the retention is over; the batch itself is still listed.
      await expect.poll(() => backend.redis.exists(backend.keys.batchRows(first.batchId), backend.keys.batchResults(first.batchId)), { timeout: 10_000, interval: 200 }).toBe(0);
      const later = await getBatchStatus(backend.store, first.batchId);
      expect(formatStatus(later)).toContain('rows and results removed on');
      const error = await writeBatchOutput(backend.store, first.batchId, path.join(dir, 'late.csv')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaylinksError);
      expect((error as PaylinksError).code).toBe('BATCH_EXPIRED');
      expect((error as PaylinksError).message).toMatch(new RegExp(`^batch ${first.batchId} has expired: its rows and results were removed on .+ UTC, PAYLINKS_RETENTION_DAYS after it finished; its links are still in the ledger`));
    } finally {
      await backend.close();
    }

    // The same words from the command, with exit 2.
    const collected = await runCliToEnd(['collect', first.batchId, '-o', path.join(dir, 'late.csv')], { env: env(), timeoutMs: 30_000 });
    expect(collected.code).toBe(2);
    expect(collected.stderr).toContain(`batch ${first.batchId} has expired: its rows and results were removed on`);
    expect(collected.stderr).toContain('[BATCH_EXPIRED]');

    // The ledger was kept: the file run again finds every link, creates nothing.
    const again = await runFile({ file, output: path.join(dir, 'again.csv'), config: config(), logger: silentLogger() });
    const rows = (await readOutputCsv(again.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(['exists', 'exists', 'exists']);
    expect(rows.map((r) => r.payment_id)).toEqual(sim.ledger().map((e) => e.paymentId));
    expect(sim.ledger()).toHaveLength(3);
  }, 60_000);
});
