/**
 * Requests whose outcome is unknown (issue 20, items 4 and 5): Paywint makes
 * the link and never answers. However often the same file runs, an invoice
 * gets at most PAYLINKS_UNKNOWN_OUTCOME_RETRIES + 1 (2) links without a
 * person's say-so; its row ends `failed UNKNOWN_OUTCOME`, a re-run and a
 * plain retry send nothing, `retry --include-unknown` sends once more.
 * `paylinks run` in one process, real Redis, the simulator; what a user would
 * check: the output rows, the batch's counters, the simulator's links.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { openBackend } from '../../src/pipeline/backend.js';
import { waitForBatch, writeBatchOutput } from '../../src/pipeline/collector.js';
import { runFile, startWorker } from '../../src/index.js';
import { retryFailedRows } from '../../src/pipeline/retry-rows.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { formatStatus, getBatchStatus, statusToJson } from '../../src/pipeline/status.js';
import { formatSummary } from '../../src/cli/progress.js';
import { summarizeBatch } from '../../src/notify/summary.js';
import { runCli } from '../helpers/cli.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { reply, startRawServer } from '../helpers/simulator.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '5b1e7c3a-9d2f-4e8a-b6c1-0f4d3e2a1b9c';
const API_SECRET = 'unknown-outcomes-secret';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-unknown-'));
  prefix = uniquePrefix('unk');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
});
afterEach(async (context) => {
  await sim.close();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

function config(env: Record<string, string> = {}): Config {
  return loadConfig({
    dotenvPath: false,
    env: {
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      REDIS_URL: testRedisUrl(),
      PAYLINKS_PREFIX: prefix,
      PAYLINKS_RATE_LIMIT: '200',
      PAYLINKS_CONCURRENCY: '4',
      PAYLINKS_TIMEOUT_MS: '300',
      PAYLINKS_MAX_ATTEMPTS: '4',
      PAYLINKS_METRICS_PORT: '0',
      ...env,
    },
  });
}

async function run(file: string, cfg: Config) {
  const result = await runFile({ file, config: cfg, logger: silentLogger() });
  const { rows } = await readOutputCsv(result.outputFile!);
  return { result, rows };
}

describe('an invoice whose requests are carried out but never answered', () => {
  it('three runs of one file: at most 2 links at Paywint, rows failed UNKNOWN_OUTCOME; only retry --include-unknown sends again, once', async () => {
    sim.setFaults({ hangRate: 1 });
    const file = path.join(dir, 'hang.csv');
    await writeInvoices(file, [['HANG-1', '25.00', 'Never answered']]);
    const cfg = config();

    const runs = [];
    for (let i = 0; i < 3; i += 1) runs.push(await run(file, cfg));

    expect(sim.ledger().filter((e) => e.invoiceNumber === 'HANG-1').length).toBeLessThanOrEqual(2);
    expect(sim.stats().requests).toBe(2);
    for (const { result, rows } of runs) {
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'failed', error_code: 'UNKNOWN_OUTCOME', payment_link: '' });
      expect(rows[0]!.error_message).toMatch(/2 requests for this invoice got no clear answer \(no answer, or one without a usable link\)/);
      expect(rows[0]!.error_message).toContain('--include-unknown');
      expect(result.batch.counts.failed).toBe(1);
      expect(result.batch.maybeLinked).toBe(1);
    }
    // The first run sent both; the later ones none.
    expect(runs[0]!.rows[0]!.attempts).toBe('2');
    expect(runs[1]!.rows[0]!.attempts).toBe('0');

    const last = runs[2]!.result.batchId;
    const backend = await openBackend({ config: cfg, logger: silentLogger() });
    try {
      const status = await getBatchStatus(backend.store, last);
      expect(statusToJson(status).may_have_link).toBe(1);
      expect(formatStatus(status)).toMatch(/1 failed row may have a link at Paywint/);
      // The run's summary and the notification say so too.
      expect(formatSummary(status.batch, { durationMs: 1000 })).toContain('1 failed row may have a link at Paywint (their requests got no clear answer)');
      const mail = await summarizeBatch(backend.store, status.batch, { outputName: 'hang.out.csv', attached: true });
      expect(mail.text).toContain('May have links: 1 failed row may have a link at Paywint');

      // A plain retry leaves it alone, and says so.
      const plain = await retryFailedRows(backend.store, backend.queue, last);
      expect(plain).toMatchObject({ requeued: 0, unknownLeft: 1 });

      // The person checked Paywint and says go: one more request, whatever it meets.
      sim.setFaults({ hangRate: 0 });
      const told = await retryFailedRows(backend.store, backend.queue, last, { includeUnknown: true });
      expect(told).toMatchObject({ requeued: 1, unknownLeft: 0 });
      const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: API_SECRET }, baseUrl: sim.url, settings: cfg, logger: silentLogger() });
      const batch = await waitForBatch(backend.store, last);
      await w.close();
      expect(sim.stats().requests).toBe(3);
      expect(batch.counts).toMatchObject({ created: 1, failed: 0 });
      const out = path.join(dir, 'retried.csv');
      await writeBatchOutput(backend.store, last, out);
      const [row] = (await readOutputCsv(out)).rows;
      expect(row).toMatchObject({ status: 'created', error_code: 'POSSIBLE_DUPLICATE_LINK' });
      expect(row!.error_message).toMatch(/^2 earlier requests for this invoice got no clear answer \(no answer, or one without a usable link\)/);
    } finally {
      await backend.close();
    }
  });

  it('a person\'s say-so is one more request: unanswered again, the row is left again', async () => {
    sim.setFaults({ hangRate: 1 });
    const file = path.join(dir, 'hang-again.csv');
    await writeInvoices(file, [['HANG-2', '30.00', '']]);
    const cfg = config();
    const { result } = await run(file, cfg);
    expect(sim.stats().requests).toBe(2);

    const backend = await openBackend({ config: cfg, logger: silentLogger() });
    try {
      await retryFailedRows(backend.store, backend.queue, result.batchId, { includeUnknown: true });
      const w = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: API_SECRET }, baseUrl: sim.url, settings: cfg, logger: silentLogger() });
      const batch = await waitForBatch(backend.store, result.batchId);
      await w.close();
      expect(sim.stats().requests).toBe(3);
      expect(batch.counts.failed).toBe(1);
      const [after] = await backend.store.readResults(result.batchId, 0, 1);
      expect(after).toMatchObject({ status: 'failed', errorCode: 'UNKNOWN_OUTCOME' });
      expect(after!.errorMessage).toMatch(/3 requests for this invoice got no clear answer \(no answer, or one without a usable link\)/);
    } finally {
      await backend.close();
    }
    // A re-run of the file: still nothing sent.
    await run(file, cfg);
    expect(sim.stats().requests).toBe(3);
  });

  it('PAYLINKS_UNKNOWN_OUTCOME_RETRIES=0: one unanswered request is the last', async () => {
    sim.setFaults({ hangRate: 1 });
    const file = path.join(dir, 'zero.csv');
    await writeInvoices(file, [['HANG-3', '5.00', '']]);
    const { rows, result } = await run(file, config({ PAYLINKS_UNKNOWN_OUTCOME_RETRIES: '0' }));
    expect(sim.stats().requests).toBe(1);
    expect(rows[0]).toMatchObject({ status: 'failed', error_code: 'UNKNOWN_OUTCOME' });
    expect(rows[0]!.error_message).toMatch(/1 request for this invoice got no clear answer/);

    // The command as a person types it: without the flag it leaves the row and says how to send it.
    const env = { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url };
    const plain = await runCli(['retry', result.batchId], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`0 failed row(s) of batch ${result.batchId} queued again`);
    expect(plain.stdout).toContain(`1 row(s) failed UNKNOWN_OUTCOME were left`);
    expect(plain.stdout).toContain(`paylinks retry ${result.batchId} --include-unknown`);
    const told = await runCli(['retry', result.batchId, '--include-unknown'], { env });
    expect(told.code, told.stderr).toBe(0);
    expect(told.stdout.trim()).toBe(`1 failed row(s) of batch ${result.batchId} queued again`);
  });
});

describe('each unknown outcome says what happened (issue 20, item 5)', () => {
  it.each([
    ['a 200 with an HTML body', (res: Parameters<typeof reply>[0]) => reply(res, 200, '<html><body>OK</body></html>', { 'content-type': 'text/html' }), 'Paywint answered 200 with a body that is not JSON; the link may have been created'],
    ['data: null with "Success"', (res: Parameters<typeof reply>[0]) => reply(res, 200, { success: true, message: 'Success', data: null }), 'Paywint answered 200 with success: true but no data; the link may have been created'],
    [
      'a payment id that is not one',
      (res: Parameters<typeof reply>[0]) => reply(res, 200, { success: true, message: 'Success', data: { payment_id: '42', payment_link: 'https://pay.sandbox.paywint.com/l/42' } }),
      /^Paywint answered 200 with a link that is not usable \(payment_id: [^)]+\); the link may have been created$/,
    ],
  ])('%s: answered, never "no answer", never Paywint\'s "Success" on a failed row; counted once, then UNKNOWN_OUTCOME', async (_name, answer, first) => {
    const server = await startRawServer((_req, res) => answer(res));
    try {
      const file = path.join(dir, 'answered.csv');
      await writeInvoices(file, [['ANS-1', '7.00', '']]);
      const cfg = config({ PAYWINT_BASE_URL: server.url, PAYWINT_LINK_HOSTS: 'paywint.com' });
      const once = await run(file, cfg);
      expect(server.requests).toHaveLength(1);
      expect(once.rows[0]).toMatchObject({ status: 'failed', error_code: 'PAYWINT_PROTOCOL', attempts: '1' });
      expect(once.rows[0]!.error_message).toMatch(first);
      expect(once.result.batch.maybeLinked).toBe(1);

      // Sent once more (the one automatic retry after an unknown outcome), then never again.
      const twice = await run(file, cfg);
      expect(server.requests).toHaveLength(2);
      const message = twice.rows[0]!.error_message!;
      expect(twice.rows[0]).toMatchObject({ status: 'failed', error_code: 'UNKNOWN_OUTCOME' });
      expect(message).toMatch(/^2 requests for this invoice got no clear answer \(no answer, or one without a usable link\), the last: Paywint answered 200 with /);
      for (const row of [...once.rows, ...twice.rows]) {
        expect(row.error_message).not.toContain('Paywint said');
        expect(row.error_message).not.toMatch(/got no answer/);
      }
      await run(file, cfg);
      expect(server.requests).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});
