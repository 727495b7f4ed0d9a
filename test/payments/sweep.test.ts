/**
 * The payment sweep in this process, on real Redis and the simulator: a
 * missed webhook is recovered by a pass (the received list and the open
 * links), a stray payment becomes an exception, a second pass stops at the
 * payments it saw; one sweep at a time per account; oldest first; and its
 * requests stay within its share of the rate limit while a batch runs
 * (counted at the simulator), the whole limit once none runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { runFile } from '../../src/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { encodeLedgerEntry, type LedgerEntry } from '../../src/pipeline/ledger.js';
import { PaymentStatusReader } from '../../src/pipeline/payment-status/index.js';
import { oldestOpenLinks, syncPayments, type SweepSummary } from '../../src/pipeline/payment-sweep/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const API_SECRET = 'sk_test_sweep-not-real';
const OLD_BATCH = '20261101T090000-0a0b0c';

let dir: string;
let sim: SimulatorHandle;
let redis: RedisClient;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-sweep-'));
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, webhooks: { url: 'http://127.0.0.1:9/lost', lostRate: 1 } });
  redis = connect(testRedisUrl());
});

afterAll(async () => {
  await sim?.close();
  await redis?.quit();
  await rm(dir, { recursive: true, force: true });
});

function configFor(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    dotenvPath: false,
    env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url, REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '500', PAYLINKS_CONCURRENCY: '8', PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES: '0', ...env },
  });
}

/** Links made at the simulator and recorded in the ledger `ageMs` ago, as an older batch (or `ledger import`) left them. */
async function oldLinks(keys: Keys, n: number, ageMs: number, tag: string): Promise<{ invoiceNumber: string; entry: LedgerEntry }[]> {
  const out: { invoiceNumber: string; entry: LedgerEntry }[] = [];
  const pipeline = redis.pipeline();
  for (let i = 0; i < n; i += 1) {
    const invoiceNumber = `${tag}-${String(i).padStart(4, '0')}`;
    const amountCents = 1000 + i;
    const made = sim.createStrayLink({ amountCents, invoiceNumber, description: `Old ${i}` });
    // Older links first: i = 0 is the oldest.
    const entry: LedgerEntry = { paymentId: made.paymentId, paymentLink: made.paymentLink, amountCents, description: `Old ${i}`, batchId: OLD_BATCH, row: i, createdAt: new Date(Date.now() - ageMs - (n - i) * 1000).toISOString() };
    pipeline.hset(keys.ledger(API_KEY), invoiceNumber, encodeLedgerEntry(entry));
    out.push({ invoiceNumber, entry });
  }
  await pipeline.exec();
  return out;
}

const SIM_STATE: Record<string, string> = { initiated: 'unpaid', opened: 'opened', processing: 'processing', success: 'paid', failed: 'failed', rejected: 'rejected', expired: 'expired', retried: 'failed' };

async function sync(config: Config, batchId?: string): Promise<SweepSummary> {
  const run = await syncPayments({ config, logger: silentLogger(), batchId });
  if (!run.ran) throw new Error('another sweep held the lock');
  return run.summary;
}

describe('a sweep pass', () => {
  it('recovers lost webhooks: paid from the received list, the rest by GET of open links; a stray payment is an exception; the next pass stops at what it saw', async () => {
    const prefix = uniquePrefix('sweep');
    const keys = new Keys(prefix);
    const config = configFor(prefix);
    try {
      const file = path.join(dir, 'july.csv');
      await writeInvoices(file, Array.from({ length: 12 }, (_, i) => [`JUL-${i + 1}`, `${i + 10}.00`, `July ${i + 1}`] as const));
      expect((await runFile({ file, config, logger: silentLogger() })).batch.state).toBe('completed');
      const links = sim.ledger().filter((l) => l.invoiceNumber?.startsWith('JUL-'));
      const by = new Map(links.map((l) => [l.invoiceNumber!, l.paymentId]));
      // Every event of these moves is lost (lostRate 1): only the sweep can learn them.
      sim.movePayment(by.get('JUL-1')!, { to: 'paid' });
      sim.movePayment(by.get('JUL-2')!, { to: 'paid', amountCents: 500 });
      sim.movePayment(by.get('JUL-3')!, { to: 'failed', reason: 'Card declined' });
      sim.movePayment(by.get('JUL-4')!, { to: 'opened' });
      sim.movePayment(by.get('JUL-5')!, { to: 'expired' });
      const stray = sim.createStrayLink({ amountCents: 1100, invoiceNumber: 'JUL-2', description: 'July 2' });
      sim.movePayment(stray.paymentId, { to: 'paid' });
      expect(sim.webhooks().every((w) => w.fate === 'lost')).toBe(true);

      const reader = new PaymentStatusReader(redis, keys, API_KEY);
      expect((await reader.readStatuses(['JUL-1'])).get('JUL-1')!.status.state).toBe('unpaid');
      const first = await sync(config);
      expect(first.received).toMatchObject({ pages: 1, payments: 3, recorded: 2, stray: 1 });
      // Open links: the 12 less the 2 paid ones (already recorded from the list).
      expect(first.open.read).toBe(10);
      expect(first.requests).toBe(11);
      expect(first.errors).toBe(0);

      const statuses = await reader.readStatuses([...by.keys()]);
      for (const [invoice, paymentId] of by) {
        const truth = sim.payments().find((p) => p.paymentId === paymentId)!;
        expect(statuses.get(invoice)!.status.state, invoice).toBe(SIM_STATE[truth.status]);
      }
      expect(statuses.get('JUL-1')!.status).toMatchObject({ state: 'paid', confirmedBy: 'sweep', amountPaidCents: 1000 });
      expect(statuses.get('JUL-3')!.status).toMatchObject({ state: 'failed', failureReason: 'Card declined' });
      const exceptions = await reader.exceptions('all');
      expect(exceptions.find((e) => e.kind === 'stray')).toMatchObject({ paymentId: stray.paymentId, likelyInvoices: ['JUL-2'] });
      expect(exceptions.some((e) => e.kind === 'amount-mismatch' && e.invoiceNumber === 'JUL-2')).toBe(true);

      // Nothing new: one page of the received list (it stops at the payments seen), and the open links again.
      sim.movePayment(by.get('JUL-6')!, { to: 'paid' });
      const second = await sync(config);
      expect(second.received).toMatchObject({ pages: 1, payments: 1, recorded: 1 });
      expect(second.open.read).toBe(8);
      // --batch: only that batch's open links.
      const other = await sync(config, 'no-such-batch');
      expect(other.open.read).toBe(0);
      expect(other.received.pages).toBe(1);
    } finally {
      await deletePrefix(testRedisUrl(), prefix);
    }
  });

  it('reads open links oldest first, in rounds of a bounded size, skipping settled and young links', async () => {
    const prefix = uniquePrefix('sweep-old');
    const keys = new Keys(prefix);
    try {
      const links = await oldLinks(keys, 30, 3_600_000, 'OLD');
      await oldLinks(keys, 5, 0, 'NEW');
      const reader = new PaymentStatusReader(redis, keys, API_KEY);
      await reader.store.ensureIndexed();
      await reader.store.record(links[3]!.invoiceNumber, links[3]!.entry, { state: 'paid', paymentId: links[3]!.entry.paymentId, amountCents: 1003, paidAt: null, failureReason: null, observedAtMs: Date.now(), by: 'webhook' });
      const cutoffMs = Date.now() - 60_000;
      const seen: string[] = [];
      let after;
      for (;;) {
        const round = await oldestOpenLinks(reader.store, { cutoffMs, limit: 7, after, scanCount: 5 });
        if (round.length === 0) break;
        seen.push(...round.map((l) => l.invoiceNumber));
        after = round[round.length - 1];
      }
      expect(seen).toEqual(links.filter((_, i) => i !== 3).map((l) => l.invoiceNumber));
    } finally {
      await deletePrefix(testRedisUrl(), prefix);
    }
  });

  it('takes at most its share of the rate limit while a batch runs, and the whole limit once none runs (counted at the simulator)', async () => {
    const prefix = uniquePrefix('sweep-share');
    const keys = new Keys(prefix);
    const rate = 40;
    const share = 0.25;
    const config = configFor(prefix, { PAYLINKS_RATE_LIMIT: String(rate), PAYLINKS_PAYMENT_SWEEP_SHARE: String(share), PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES: '10' });
    try {
      await oldLinks(keys, 260, 3_600_000, 'SHR');
      await new PaymentStatusReader(redis, keys, API_KEY).store.ensureIndexed();
      const file = path.join(dir, 'share.csv');
      await writeInvoices(file, Array.from({ length: 320 }, (_, i) => [`SHB-${i + 1}`, `${i + 5}.00`, `Share ${i + 1}`] as const));
      const readsBefore = sim.stats().readTimesMs.length;
      const createsBefore = sim.stats().requestTimesMs.length;
      // The simulator stamps arrivals in this process: when it gets no core for a while, stamps come late and bunch.
      // Windows are shortened by the longest such hold-up, so only the limiters' bunching counts.
      const lag = monitorEventLoopDelay({ resolution: 5 });
      lag.enable();
      const batch = runFile({ file, config, logger: silentLogger() });
      // The batch under way first (its jobs queued), then the sweep.
      await new Promise((r) => setTimeout(r, 1500));
      const summary = await sync(config);
      expect((await batch).batch.state).toBe('completed');
      expect(summary.open.read).toBe(260);
      const reads = sim.stats().readTimesMs.slice(readsBefore);
      const creates = sim.stats().requestTimesMs.slice(createsBefore);
      expect(reads.length).toBe(summary.requests);
      const batchStart = creates[0]!;
      const batchEnd = creates[creates.length - 1]!;
      lag.disable();
      const windowMs = 1000 - Math.max(0, lag.max / 1e6 - 5);
      const inWindow = (times: number[], from: number) => times.filter((t) => t >= from && t < from + windowMs).length;
      // While the batch runs (past the first second, the pacer's look at the queue): its share at most, per second.
      // A read leaves at its share slot or later, when the shared schedule's slot comes (the batch holds it
      // ahead) and this loaded machine's timers fire: reads bunch a little, so the share is checked over
      // 2-second windows (one read more allowed), and over the whole batch.
      let maxReads = 0;
      let maxAll = 0;
      for (let t = batchStart + 1000; t + 2000 <= batchEnd; t += 100) {
        maxReads = Math.max(maxReads, inWindow(reads, t) + inWindow(reads, t + 1000));
        maxAll = Math.max(maxAll, inWindow(reads, t) + inWindow(creates, t));
      }
      expect(batchEnd - batchStart).toBeGreaterThan(4000);
      expect(maxReads).toBeGreaterThan(0);
      expect(maxReads).toBeLessThanOrEqual(Math.floor(2 * rate * share * 1.05) + 2);
      const during = reads.filter((t) => t >= batchStart + 1000 && t <= batchEnd).length;
      expect(during).toBeLessThanOrEqual(((batchEnd - batchStart - 1000) / 1000) * rate * share * 1.05 + 2);
      expect(maxAll).toBeLessThanOrEqual(Math.floor(rate * 1.05) + 1);
      // Once no batch runs, the sweep takes the whole limit.
      let maxAfter = 0;
      for (let t = batchEnd + 1500; t + 1000 <= reads[reads.length - 1]!; t += 100) maxAfter = Math.max(maxAfter, inWindow(reads, t));
      // (more than the share's cap in some second: by how much depends on this machine's load)
      expect(maxAfter).toBeGreaterThan(Math.floor(rate * share * 1.05) + 2);
    } finally {
      await deletePrefix(testRedisUrl(), prefix);
    }
  });
});
