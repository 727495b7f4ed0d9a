/**
 * The batch pipeline end to end in one process: real Redis, the Paywint
 * simulator over HTTP, the output CSV read back as a user would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runFile } from '../../src/index.js';
import { PaylinksError } from '../../src/core/errors.js';
import { openBackend } from '../../src/pipeline/backend.js';
import { writeBatchOutput } from '../../src/pipeline/collector.js';
import { formatStatus, getBatchStatus, statusToJson } from '../../src/pipeline/status.js';
import { runCliToEnd } from '../helpers/processes.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/paywint/simulator/index.js';
import { busiestWindow } from '../../src/paywint/simulator/ledger.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, dumpPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '3f0c9a52-7d4e-4b7a-9c1e-2a6f5b8d9e01';
const API_SECRET = 'sk_test_do-not-leak-9f8e7d6c5b4a';

let dir: string;
let prefix: string;
const sims: SimulatorHandle[] = [];

async function simulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, ...options });
  sims.push(sim);
  return sim;
}

/** The environment of the test's paylinks: its simulator, Redis and prefix; `env` overrides. */
function envFor(sim: SimulatorHandle, env: Record<string, string> = {}): Record<string, string> {
  return {
    PAYWINT_API_KEY: API_KEY,
    PAYWINT_API_SECRET: API_SECRET,
    PAYWINT_BASE_URL: sim.url,
    REDIS_URL: testRedisUrl(),
    PAYLINKS_PREFIX: prefix,
    PAYLINKS_RATE_LIMIT: '500',
    PAYLINKS_CONCURRENCY: '8',
    PAYLINKS_TIMEOUT_MS: '2000',
    ...env,
  };
}

function config(sim: SimulatorHandle, env: Record<string, string> = {}): Config {
  return loadConfig({ dotenvPath: false, env: envFor(sim, env) });
}

function invoices(n: number, from = 1, amount = (i: number) => `${i}.${String(i % 100).padStart(2, '0')}`): [string, string, string][] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return [`INV-${String(i).padStart(5, '0')}`, amount(i), `Invoice ${i}, services`];
  });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-pipeline-'));
  prefix = uniquePrefix('pipe');
});

afterEach(async (context) => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
  // A failed test keeps its keys and files for inspection.
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

describe('paylinks run', () => {
  it('creates every link exactly once despite 500s and 429s, and the output matches the ledger', async () => {
    const sim = await simulator({ errorRate: 0.1, rateLimitedRate: 0.05, retryAfterSeconds: 1, seed: 7 });
    const file = path.join(dir, 'march.csv');
    await writeInvoices(file, invoices(60));

    const result = await runFile({ file, config: config(sim), logger: silentLogger() });

    expect(result.batch.state).toBe('completed');
    const { rows, headers } = await readOutputCsv(result.outputFile!);
    expect(headers).toEqual(['invoice_number', 'amount', 'description', 'status', 'payment_id', 'payment_link', 'error_code', 'error_message', 'attempts']);
    expect(rows).toHaveLength(60);
    expect(rows.map((r) => r.invoice_number)).toEqual(invoices(60).map((r) => r[0]));
    expect(rows.every((r) => r.status === 'created')).toBe(true);

    const ledger = sim.ledger();
    expect(ledger).toHaveLength(60);
    const byInvoice = new Map(ledger.map((e) => [e.invoiceNumber, e]));
    expect(byInvoice.size).toBe(60);
    for (const row of rows) {
      const entry = byInvoice.get(row.invoice_number!);
      expect(entry?.paymentId).toBe(row.payment_id);
      expect(entry?.paymentLink).toBe(row.payment_link);
      expect(entry?.amount).toBe(Number(row.amount).toString());
    }
    // Both kinds of fault did happen, and were retried: every 500, 503 and 429 answered a request that made no link,
    // so the simulator saw one request per link plus one per fault.
    const stats = sim.stats();
    const serverErrors = (stats.byStatus['500'] ?? 0) + (stats.byStatus['503'] ?? 0);
    const rateLimited = stats.byStatus['429'] ?? 0;
    expect(serverErrors).toBeGreaterThan(0);
    expect(rateLimited).toBeGreaterThan(0);
    expect(stats.byStatus['200']).toBe(60);
    expect(stats.requestTimesMs).toHaveLength(60 + serverErrors + rateLimited);
    expect(rows.some((r) => Number(r.attempts) > 1)).toBe(true);
    expect(result.batch.createdCents).toBe(invoices(60).reduce((sum, r) => sum + Math.round(Number(r[1]) * 100), 0));
  });

  it('running the same file again creates nothing and reports every row as exists with the same ids', async () => {
    const sim = await simulator();
    const file = path.join(dir, 'april.csv');
    await writeInvoices(file, invoices(15));
    const first = await runFile({ file, config: config(sim), logger: silentLogger() });
    const firstRows = (await readOutputCsv(first.outputFile!)).rows;
    expect(sim.ledger()).toHaveLength(15);

    const second = await runFile({ file, output: path.join(dir, 'again.csv'), config: config(sim), logger: silentLogger() });

    expect(second.batchId).not.toBe(first.batchId);
    expect(second.batch.state).toBe('completed');
    const rows = (await readOutputCsv(second.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(Array(15).fill('exists'));
    expect(rows.map((r) => r.payment_id)).toEqual(firstRows.map((r) => r.payment_id));
    expect(rows.map((r) => r.payment_link)).toEqual(firstRows.map((r) => r.payment_link));
    expect(rows.every((r) => r.attempts === '0')).toBe(true);
    expect(sim.ledger()).toHaveLength(15);
  });

  it('a second file sharing invoices reuses their links and reports a conflict where the amount differs', async () => {
    const sim = await simulator();
    const first = path.join(dir, 'first.csv');
    await writeInvoices(first, invoices(10));
    const firstRun = await runFile({ file: first, config: config(sim), logger: silentLogger() });
    const firstRows = (await readOutputCsv(firstRun.outputFile!)).rows;

    const second = path.join(dir, 'second.csv');
    const shared = invoices(5, 6); // INV-6..10, same amounts
    shared[2] = [shared[2]![0], '999.99', shared[2]![2]]; // INV-8 with another amount
    await writeInvoices(second, [...shared, ...invoices(3, 11)]);
    const secondRun = await runFile({ file: second, config: config(sim), logger: silentLogger() });

    expect(secondRun.batch.state).toBe('completed_with_errors');
    const rows = (await readOutputCsv(secondRun.outputFile!)).rows;
    expect(rows.map((r) => [r.invoice_number, r.status])).toEqual([
      ['INV-00006', 'exists'],
      ['INV-00007', 'exists'],
      ['INV-00008', 'conflict'],
      ['INV-00009', 'exists'],
      ['INV-00010', 'exists'],
      ['INV-00011', 'created'],
      ['INV-00012', 'created'],
      ['INV-00013', 'created'],
    ]);
    const firstById = new Map(firstRows.map((r) => [r.invoice_number, r.payment_id]));
    expect(rows[0]!.payment_id).toBe(firstById.get('INV-00006'));
    expect(rows[2]!.error_code).toBe('LEDGER_CONFLICT');
    expect(rows[2]!.error_message).toContain('999.99');
    expect(rows[2]!.payment_id).toBe('');
    expect(sim.ledger()).toHaveLength(13);
  });

  it('two batches with the same invoices running at once create each link once', async () => {
    // 300 ms per answer and 16 rows in flight per worker: a batch of 200 takes seconds. Batch A goes up the list;
    // batch B, started once A has made its first link, comes down it on a worker of its own; they meet in the
    // middle with invoices in flight on both sides.
    const sim = await simulator({ latencyMs: 300 });
    const n = 200;
    const a = path.join(dir, 'a.csv');
    const b = path.join(dir, 'b.csv');
    await writeInvoices(a, invoices(n));
    await writeInvoices(b, [...invoices(n)].reverse());
    // As many job slots as A has chunks, so A's jobs are all taken before B's are queued behind them.
    const env = { PAYLINKS_CONCURRENCY: '16' };

    const runA = runFile({ file: a, config: config(sim, env), logger: silentLogger() });
    await expect.poll(() => sim.ledger().length, { timeout: 30_000, interval: 20 }).toBeGreaterThan(0);
    const runB = runFile({ file: b, config: config(sim, env), logger: silentLogger() });
    const [ra, rb] = await Promise.all([runA, runB]);

    expect(ra.batchId).not.toBe(rb.batchId);
    expect(ra.batch.state).toBe('completed');
    expect(rb.batch.state).toBe('completed');
    const rowsA = (await readOutputCsv(ra.outputFile!)).rows;
    const rowsB = (await readOutputCsv(rb.outputFile!)).rows;
    expect(rowsA).toHaveLength(n);
    expect(rowsB).toHaveLength(n);
    expect(rowsB.map((r) => r.invoice_number)).toEqual(rowsA.map((r) => r.invoice_number).reverse());
    // The precondition of the test: the batches overlapped. Had one run before the other, the second would have
    // found every link made and created none.
    const createdA = rowsA.filter((r) => r.status === 'created').length;
    const createdB = rowsB.filter((r) => r.status === 'created').length;
    expect(createdA, 'batch A created nothing: the batches did not overlap').toBeGreaterThan(0);
    expect(createdB, 'batch B created nothing: the batches did not overlap').toBeGreaterThan(0);
    console.info(`[two batches] created by A: ${createdA}, by B: ${createdB}`);
    expect(createdA + createdB).toBe(n);
    expect([...rowsA, ...rowsB].every((r) => r.status === 'created' || r.status === 'exists')).toBe(true);

    // The simulator holds exactly one link per invoice, and was asked exactly once per invoice.
    const ledger = sim.ledger();
    expect(ledger).toHaveLength(n);
    expect(new Set(ledger.map((e) => e.invoiceNumber)).size).toBe(n);
    expect(sim.stats().requestTimesMs).toHaveLength(n);
    // Both outputs give each invoice the simulator's one link.
    const ids = new Map(ledger.map((e) => [e.invoiceNumber, e.paymentId]));
    for (const r of [...rowsA, ...rowsB]) expect(r.payment_id).toBe(ids.get(r.invoice_number!));
  });

  it('a 401 stops the batch after a handful of requests', async () => {
    const sim = await simulator({ apiSecret: 'another-secret' });
    const file = path.join(dir, 'auth.csv');
    await writeInvoices(file, invoices(200));

    const result = await runFile({ file, config: config(sim, { PAYLINKS_CONCURRENCY: '4', PAYLINKS_RATE_LIMIT: '50' }), logger: silentLogger() });

    expect(result.batch.state).toBe('failed');
    expect(result.batch.stopCode).toBe('BATCH_STOPPED_AUTH');
    expect(sim.stats().requests).toBeLessThanOrEqual(6);
    expect(sim.ledger()).toHaveLength(0);
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows).toHaveLength(200);
    expect(rows.every((r) => r.status === 'failed')).toBe(true);
    expect(rows.filter((r) => r.error_code === 'PAYWINT_AUTH').length).toBeGreaterThanOrEqual(1);
    expect(rows.filter((r) => r.error_code === 'BATCH_STOPPED_AUTH').length).toBeGreaterThan(190);
  });

  it('holds the rate limit across two workers', async () => {
    const sim = await simulator();
    const a = path.join(dir, 'ra.csv');
    const b = path.join(dir, 'rb.csv');
    await writeInvoices(a, invoices(45));
    await writeInvoices(b, invoices(45, 1000));
    const env = { PAYLINKS_RATE_LIMIT: '20', PAYLINKS_CONCURRENCY: '10' };

    // The simulator stamps arrivals in this process, the workers' own: when it gets no core for a while, stamps come
    // late and bunch. Windows are shortened by the longest such hold-up, so only the limiter's bunching counts.
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    await Promise.all([
      runFile({ file: a, config: config(sim, env), logger: silentLogger() }),
      runFile({ file: b, config: config(sim, env), logger: silentLogger() }),
    ]);
    lag.disable();

    const stats = sim.stats();
    expect(stats.arrivalsMs).toHaveLength(90);
    const windowMs = 1000 - Math.max(0, lag.max / 1e6 - 5);
    expect(busiestWindow(stats.arrivalsMs, windowMs).requests, `most in ${windowMs} ms`).toBeLessThanOrEqual(20);
    const times = stats.requestTimesMs.slice().sort((x, y) => x - y);
    const spanSeconds = (times.at(-1)! - times[0]!) / 1000;
    expect(90 / spanSeconds).toBeGreaterThan(16);
    expect(90 / spanSeconds).toBeLessThan(22);
  });

  it('keeps invalid and duplicate rows in the output, in input order, without a job', async () => {
    const sim = await simulator();
    const file = path.join(dir, 'mixed.csv');
    await writeInvoices(file, [
      ['INV-1', '10.00', 'ok'],
      ['', '5.00', 'no invoice'],
      ['INV-2', '12.345', 'too precise'],
      ['INV-1', '10.00', 'duplicate'],
      ['INV-3', '$1,234.56', 'with symbol'],
    ]);

    const result = await runFile({ file, config: config(sim), logger: silentLogger() });

    expect(result.batch.state).toBe('completed_with_errors');
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows.map((r) => [r.invoice_number, r.status, r.error_code])).toEqual([
      ['INV-1', 'created', ''],
      ['', 'invalid', 'MISSING_INVOICE_NUMBER'],
      ['INV-2', 'invalid', 'AMOUNT_TOO_PRECISE'],
      ['INV-1', 'duplicate', 'DUPLICATE_INVOICE'],
      ['INV-3', 'created', ''],
    ]);
    expect(sim.ledger().map((e) => [e.invoiceNumber, e.amount])).toEqual(
      expect.arrayContaining([
        ['INV-1', '10'],
        ['INV-3', '1234.56'],
      ]),
    );
    expect(sim.ledger()).toHaveLength(2);
  });

  it('never writes the API secret to Redis or the output', async () => {
    const sim = await simulator({ errorRate: 0.2, seed: 3 });
    const file = path.join(dir, 'secret.csv');
    await writeInvoices(file, invoices(10));
    const result = await runFile({ file, config: config(sim), logger: silentLogger() });
    const dump = await dumpPrefix(testRedisUrl(), prefix);
    expect(dump.length).toBeGreaterThan(100);
    expect(dump).not.toContain(API_SECRET);
    expect((await readOutputCsv(result.outputFile!)).raw).not.toContain(API_SECRET);
  });
});

const RETENTION_SECONDS = 3;

/**
 * Retention: a finished batch's rows and results are removed
 * PAYLINKS_RETENTION_DAYS after it finished (here a few seconds, as a
 * fraction of a day); `status` says when, `collect` afterwards says why it
 * cannot, and the ledger is kept: the same file run again finds every link.
 */
describe('retention of finished batches', () => {
  it('status says when the rows go; after that, collect says they are gone; the ledger stays', async () => {
    const file = path.join(dir, 'june.csv');
    await writeInvoices(file, [
      ['JUN-1', '10.00', 'one'],
      ['JUN-2', '20.00', 'two'],
      ['JUN-3', '30.00', 'three'],
    ]);
    const sim = await simulator();
    const keep = { PAYLINKS_RETENTION_DAYS: String(RETENTION_SECONDS / 86_400) };
    const first = await runFile({ file, config: config(sim, keep), logger: silentLogger() });
    expect(first.batch.state).toBe('completed');

    const backend = await openBackend({ config: config(sim, keep), logger: silentLogger() });
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
    const collected = await runCliToEnd(['collect', first.batchId, '-o', path.join(dir, 'late.csv')], { env: envFor(sim, keep), timeoutMs: 30_000 });
    expect(collected.code).toBe(2);
    expect(collected.stderr).toContain(`batch ${first.batchId} has expired: its rows and results were removed on`);
    expect(collected.stderr).toContain('[BATCH_EXPIRED]');

    // The ledger was kept: the file run again finds every link, creates nothing.
    const again = await runFile({ file, output: path.join(dir, 'again.csv'), config: config(sim, keep), logger: silentLogger() });
    const rows = (await readOutputCsv(again.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(['exists', 'exists', 'exists']);
    expect(rows.map((r) => r.payment_id)).toEqual(sim.ledger().map((e) => e.paymentId));
    expect(sim.ledger()).toHaveLength(3);
  }, 60_000);
});
