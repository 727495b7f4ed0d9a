/**
 * The claim lock between two live jobs, made to happen on purpose: a rerun
 * after a crash has the same job id, so the `busy` and take-over branches
 * never run by chance in the other tests.
 *
 * First the ledger's scripts on real Redis (a second owner is refused, only
 * the holder may begin, end or hand over its claim), then a worker meeting an
 * invoice held by another job: it waits while that job is live and takes the
 * link it made, and takes over the claim of a job that is gone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { Ledger } from '../../src/pipeline/ledger.js';
import { CREATE_LINK_JOB } from '../../src/pipeline/create-link-job.js';
import { openQueue } from '../../src/pipeline/queue.js';
import { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import { runFile, type RunResult } from '../../src/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { claim, finishRow } from '../helpers/store.js';

const API_KEY = '6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a';
const API_SECRET = 'sk_test_claim-lock-not-real';

let prefix: string;
let keys: Keys;
let redis: RedisClient;
let store: BatchStore;
let ledger: Ledger;

beforeEach(() => {
  prefix = uniquePrefix('claim');
  keys = new Keys(prefix);
  redis = connect(testRedisUrl());
  store = new BatchStore(redis, keys);
  ledger = new Ledger(redis, keys, API_KEY);
});

afterEach(async (context) => {
  await redis.quit();
  if (context.task.result?.state !== 'fail') await deletePrefix(testRedisUrl(), prefix);
});

/** A batch of `rows` rows for the test's account, its rows running (as the claim script requires). */
async function newBatch(rows: number): Promise<string> {
  const layout = { headers: ['invoice_number', 'amount'], invoice: 0, amount: 1, description: null, delimiter: ',', encoding: 'utf-8' };
  const id = await store.create({ file: 'f.csv', sha256: uniquePrefix('sha'), account: API_KEY, layout, rows, valid: rows });
  await store.markSubmitted(id);
  return id;
}

describe('the claim on an invoice (ledger scripts on Redis)', () => {
  it("refuses a second job's claim while the first holds it, whatever its batch", async () => {
    const [batchA, batchB] = [await newBatch(2), await newBatch(2)];
    const first = await claim(ledger, 'INV-1', 'job-a', 150, null, store.rowRef(batchA, 0));
    expect(first).toMatchObject({ kind: 'claimed', claim: { owner: 'job-a', attempts: 0, inFlight: 0 } });

    // Another job of another batch, and another job of the same batch: both refused, told who holds it.
    const other = await claim(ledger, 'INV-1', 'job-b', 150, null, store.rowRef(batchB, 0));
    expect(other).toMatchObject({ kind: 'busy', claim: { owner: 'job-a' } });
    const sameBatch = await claim(ledger, 'INV-1', 'job-c', 150, null, store.rowRef(batchA, 1));
    expect(sameBatch).toMatchObject({ kind: 'busy', claim: { owner: 'job-a' } });
    // The holder asking again gets its claim back as it stands.
    expect(await claim(ledger, 'INV-1', 'job-a', 150, null, store.rowRef(batchA, 0))).toMatchObject({ kind: 'claimed', claim: { owner: 'job-a' } });

    // Only the holder may send: a stranger can neither begin a request nor end one.
    const limiter = new RateLimiter(redis, { key: keys.rateLimit(API_KEY), ratePerSecond: 1000 });
    expect(await ledger.beginAttempt('INV-1', 'job-b', limiter)).toBeUndefined();
    const begun = await ledger.beginAttempt('INV-1', 'job-a', limiter);
    expect(begun?.claim).toMatchObject({ owner: 'job-a', attempts: 1, inFlight: 1 });
    if (begun?.kind !== 'begun') throw new Error('not begun');
    expect(await ledger.endAttempt('INV-1', 'job-b', begun.attempt, 'failed')).toBeUndefined();
    // Still refused while a request is out.
    expect(await claim(ledger, 'INV-1', 'job-b', 150, null, store.rowRef(batchB, 0))).toMatchObject({ kind: 'busy', claim: { owner: 'job-a', inFlight: 1 } });
  });

  it('a begun claim refuses others too, and the claim of one invoice leaves the others free', async () => {
    const batch = await newBatch(2);
    const limiter = new RateLimiter(redis, { key: keys.rateLimit(API_KEY), ratePerSecond: 1000 });
    const begun = await claim(ledger, 'INV-1', 'job-a', 150, null, store.rowRef(batch, 0), limiter);
    expect(begun).toMatchObject({ kind: 'claimed', claim: { owner: 'job-a', inFlight: 1 } });
    expect(await claim(ledger, 'INV-1', 'job-b', 150, null, store.rowRef(batch, 1), limiter)).toMatchObject({ kind: 'busy', claim: { owner: 'job-a' } });
    expect(await claim(ledger, 'INV-2', 'job-b', 150, null, store.rowRef(batch, 1), limiter)).toMatchObject({ kind: 'claimed', claim: { owner: 'job-b' } });
  });

  it('hands a claim over only from the holder named, counting its request in flight as unknown', async () => {
    const batch = await newBatch(1);
    await claim(ledger, 'INV-1', 'job-a', 150, null, store.rowRef(batch, 0));
    const limiter = new RateLimiter(redis, { key: keys.rateLimit(API_KEY), ratePerSecond: 1000 });
    await ledger.beginAttempt('INV-1', 'job-a', limiter);

    // Named wrongly: refused, the claim unchanged.
    expect(await ledger.takeOver('INV-1', 'job-x', 'job-b')).toBeUndefined();
    expect(await claim(ledger, 'INV-1', 'job-b', 150, null, store.rowRef(batch, 0))).toMatchObject({ kind: 'busy', claim: { owner: 'job-a' } });

    const taken = await ledger.takeOver('INV-1', 'job-a', 'job-b');
    expect(taken).toMatchObject({ owner: 'job-b', attempts: 1, inFlight: 0, unknown: 1 });
    // Now the first job is the stranger: refused, and it can no longer send.
    expect(await claim(ledger, 'INV-1', 'job-a', 150, null, store.rowRef(batch, 0))).toMatchObject({ kind: 'busy', claim: { owner: 'job-b' } });
    expect(await ledger.beginAttempt('INV-1', 'job-a', limiter)).toBeUndefined();
    // A second take-over from the old holder finds it gone.
    expect(await ledger.takeOver('INV-1', 'job-a', 'job-c')).toBeUndefined();
  });
});

/**
 * A worker (runFile's) meets an invoice another job holds. The holder is set
 * up by hand: a claim under a job id that is live in the queue (a delayed job
 * that never runs during the test), or under one no queue knows.
 */
describe('a worker meeting an invoice another job holds', () => {
  let dir: string;
  let sim: SimulatorHandle;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'paylinks-claim-'));
    sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  });

  afterEach(async (context) => {
    await sim.close();
    if (context.task.result?.state !== 'fail') await rm(dir, { recursive: true, force: true });
  });

  function config(): Config {
    return loadConfig({
      dotenvPath: false,
      env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url, REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '200', PAYLINKS_CONCURRENCY: '4' },
    });
  }

  const invoices = (n: number) => Array.from({ length: n }, (_, i) => [`INV-${i + 1}`, `${i + 1}.50`, `Invoice ${i + 1}`] as [string, string, string]);

  /** runFile, failing the test instead of hanging when the batch never finishes. */
  async function runWithin(file: string, timeoutMs: number): Promise<RunResult> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const result = await runFile({ file, config: config(), logger: silentLogger(), signal: abort.signal });
      if (result.interrupted) throw new Error(`the batch did not finish within ${timeoutMs} ms: a row waits for a claim forever`);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  it('waits while the holder is live, then reports the link the holder made; nothing is sent for that invoice', async () => {
    // The holder: a job of another batch, live (delayed far ahead), holding INV-3.
    const holderBatch = await newBatch(1);
    const holder = `${holderBatch}-0-1`;
    const queue = openQueue(redis, keys);
    try {
      await queue.add(CREATE_LINK_JOB, { batchId: holderBatch, from: 0, to: 1 }, { jobId: holder, delay: 3_600_000 });
      expect(await claim(ledger, 'INV-3', holder, 350, 'Invoice 3', store.rowRef(holderBatch, 0))).toMatchObject({ kind: 'claimed' });

      const file = path.join(dir, 'held.csv');
      await writeInvoices(file, invoices(5));
      const running = runWithin(file, 40_000);
      let finished = false;
      void running.then(() => (finished = true)).catch(() => (finished = true));

      // The other four are created; INV-3 waits (re-checked every second) as long as its holder is live.
      await expect.poll(() => sim.ledger().length, { timeout: 30_000, interval: 100 }).toBe(4);
      await sleep(2_500);
      expect(finished, 'the run ended while another job held one of its invoices').toBe(false);
      expect(sim.ledger().map((e) => e.invoiceNumber)).not.toContain('INV-3');

      // The holder makes its link (here by hand, as its job would record it) and lets go of the claim.
      const held = { paymentId: '11111111-2222-4333-8444-555555555555', paymentLink: 'https://pay.example/held-link' };
      const recorded = await finishRow(
        store,
        holderBatch,
        0,
        { status: 'created', ...held, attempts: 1 },
        {
          invoiceNumber: 'INV-3',
          claimOwner: holder,
          amountCents: 350,
          ledgerEntry: { ...held, amountCents: 350, description: 'Invoice 3', batchId: holderBatch, row: 0, createdAt: new Date().toISOString() },
          ledgerKey: ledger.ledgerKey,
          claimsKey: ledger.claimsKey,
          unsettledKey: ledger.unsettledKey,
        },
      );
      expect(recorded).toBe(true);

      const result = await running;
      const { rows } = await readOutputCsv(result.outputFile!);
      expect(rows.map((r) => [r.invoice_number, r.status])).toEqual([
        ['INV-1', 'created'],
        ['INV-2', 'created'],
        ['INV-3', 'exists'],
        ['INV-4', 'created'],
        ['INV-5', 'created'],
      ]);
      expect(rows[2]).toMatchObject({ payment_id: held.paymentId, payment_link: held.paymentLink, attempts: '0' });
      // Nothing was ever sent for INV-3.
      expect(sim.stats().requestTimesMs).toHaveLength(4);
      expect(sim.ledger().map((e) => e.invoiceNumber).sort()).toEqual(['INV-1', 'INV-2', 'INV-4', 'INV-5']);
    } finally {
      await queue.close();
    }
  });

  it('takes over the claim of a job that is gone, and makes the one link', async () => {
    const holderBatch = await newBatch(1);
    // A job id no queue knows: its worker crashed and its job was removed.
    const gone = `${holderBatch}-0-1-gone`;
    expect(await claim(ledger, 'INV-2', gone, 250, 'Invoice 2', store.rowRef(holderBatch, 0))).toMatchObject({ kind: 'claimed' });

    const file = path.join(dir, 'orphan.csv');
    await writeInvoices(file, invoices(3));
    const result = await runWithin(file, 40_000);

    expect(result.batch.state).toBe('completed');
    const { rows } = await readOutputCsv(result.outputFile!);
    expect(rows.map((r) => [r.invoice_number, r.status])).toEqual([
      ['INV-1', 'created'],
      ['INV-2', 'created'],
      ['INV-3', 'created'],
    ]);
    const ledgerLinks = sim.ledger();
    expect(ledgerLinks.map((e) => e.invoiceNumber).sort()).toEqual(['INV-1', 'INV-2', 'INV-3']);
    expect(rows[1]!.payment_id).toBe(ledgerLinks.find((e) => e.invoiceNumber === 'INV-2')!.paymentId);
    // The claim is gone with the link recorded: a later claim finds the link.
    expect(await claim(ledger, 'INV-2', 'job-z', 250, 'Invoice 2', store.rowRef(holderBatch, 0))).toMatchObject({ kind: 'exists' });
  });
});
