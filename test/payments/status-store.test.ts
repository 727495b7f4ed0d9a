/**
 * The payment status store on real Redis: the index built from the ledger,
 * lookups by payment id, concurrent merges, the read API and exceptions.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { Keys } from '../../src/pipeline/keys.js';
import { encodeLedgerEntry, type LedgerEntry } from '../../src/pipeline/ledger.js';
import { batchCollection, PaymentExceptions, PaymentStatusStore, type Observation } from '../../src/pipeline/payment-status/index.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const ACCOUNT = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';
const BATCH = '20261207T100000-a1b2c3';

let prefix: string;
let redis: RedisClient;
let keys: Keys;
let store: PaymentStatusStore;
let exceptions: PaymentExceptions;

beforeEach(() => {
  prefix = uniquePrefix('pay');
  redis = connect(testRedisUrl());
  keys = new Keys(prefix);
  store = new PaymentStatusStore(redis, keys, ACCOUNT);
  exceptions = new PaymentExceptions(redis, keys, ACCOUNT);
});

afterEach(async (context) => {
  await redis.quit();
  if (context.task.result?.state !== 'fail') await deletePrefix(testRedisUrl(), prefix);
});

function entry(amountCents: number, createdAt = new Date().toISOString(), batchId = BATCH): LedgerEntry {
  const paymentId = randomUUID();
  return { paymentId, paymentLink: `https://pay.sandbox.paywint.com/l/${paymentId}`, amountCents, description: 'June', batchId, row: 0, createdAt };
}

async function putLedger(entries: Record<string, LedgerEntry>): Promise<void> {
  await redis.hset(keys.ledger(ACCOUNT), Object.fromEntries(Object.entries(entries).map(([k, e]) => [k, encodeLedgerEntry(e)])));
}

const paid = (e: LedgerEntry, atMs: number, amountCents = e.amountCents): Observation => ({ state: 'paid', paymentId: e.paymentId, amountCents, paidAt: new Date(atMs - 5000).toISOString(), failureReason: null, observedAtMs: atMs, by: 'webhook' });

describe('PaymentStatusStore', () => {
  it('finds the invoice of a payment id once the ledger is indexed, and indexes again only when the ledger grew', async () => {
    const a = entry(1000);
    const b = entry(2000);
    await putLedger({ 'INV-1': a, 'INV-2': b });
    expect(await store.lookup(a.paymentId)).toBeNull();
    expect(await store.ensureIndexed()).toBe(true);
    expect(await store.lookup(a.paymentId)).toMatchObject({ invoiceNumber: 'INV-1', entry: { paymentId: a.paymentId } });
    expect(await store.lookup(b.paymentId)).toMatchObject({ invoiceNumber: 'INV-2' });
    expect(await store.lookup(randomUUID())).toBeNull();
    expect(await store.ensureIndexed()).toBe(false);
    const c = entry(3000);
    await putLedger({ 'INV-3': c });
    expect(await store.ensureIndexed()).toBe(true);
    expect(await store.lookup(c.paymentId)).toMatchObject({ invoiceNumber: 'INV-3' });
  });

  it('indexing again keeps the statuses recorded', async () => {
    const a = entry(1000);
    await putLedger({ 'INV-1': a });
    await store.indexLedger();
    await store.record('INV-1', a, paid(a, Date.now()));
    await store.indexLedger();
    expect((await store.readStatuses(['INV-1'])).get('INV-1')?.status.state).toBe('paid');
  });

  it('keeps every concurrent merge: 20 answers at once end in the newest state', async () => {
    const a = entry(1000);
    await putLedger({ 'INV-1': a });
    await store.indexLedger();
    const t = Date.now();
    const states = ['opened', 'processing', 'opened', 'processing'] as const;
    await Promise.all([
      ...Array.from({ length: 19 }, (_, i) => store.record('INV-1', a, { state: states[i % 4]!, paymentId: a.paymentId, amountCents: null, paidAt: null, failureReason: null, observedAtMs: t - 60_000 + i * 1000, by: 'sweep' })),
      store.record('INV-1', a, paid(a, t - 30_000)),
    ]);
    const status = (await store.readStatuses(['INV-1'])).get('INV-1')!.status;
    expect(status.state).toBe('paid');
    expect(status.amountPaidCents).toBe(1000);
  });

  it('ties a retried payment id to its invoice', async () => {
    const a = entry(1000);
    await putLedger({ 'INV-1': a });
    await store.indexLedger();
    const retry = randomUUID();
    await store.retried('INV-1', a, retry);
    expect(await store.lookup(retry)).toMatchObject({ invoiceNumber: 'INV-1' });
    await store.record('INV-1', a, { ...paid(a, Date.now()), paymentId: retry });
    const status = (await store.readStatuses(['INV-1'])).get('INV-1')!.status;
    expect(status).toMatchObject({ state: 'paid', paymentId: retry });
  });

  it('readStatuses: unpaid when nothing was heard, absent without a link', async () => {
    const a = entry(1000);
    await putLedger({ 'INV-1': a });
    const map = await store.readStatuses(['INV-1', 'INV-404']);
    expect([...map.keys()]).toEqual(['INV-1']);
    expect(map.get('INV-1')?.status).toMatchObject({ state: 'unpaid', paymentId: a.paymentId, confirmedAt: null });
  });
});

describe('batchCollection and exceptions', () => {
  it('counts and sums by state, the collected share, aging of links not paid, and the batch\'s exceptions', async () => {
    const day = 86_400_000;
    const now = Date.now();
    const e1 = entry(10_000, new Date(now - 2 * day).toISOString());
    const e2 = entry(20_000, new Date(now - 10 * day).toISOString());
    const e3 = entry(30_000, new Date(now - 100 * day).toISOString());
    const other = entry(99_999, new Date(now).toISOString(), '20261101T000000-ffffff');
    await putLedger({ 'INV-1': e1, 'INV-2': e2, 'INV-3': e3, 'INV-9': other });
    await store.indexLedger();
    await store.record('INV-1', e1, paid(e1, now));
    await store.record('INV-2', e2, { state: 'failed', paymentId: e2.paymentId, amountCents: null, paidAt: null, failureReason: 'declined', observedAtMs: now, by: 'sweep' });
    await exceptions.add({ kind: 'amount-mismatch', paymentId: e1.paymentId, invoiceNumber: 'INV-1', batchId: BATCH, detail: 'x' });
    await exceptions.add({ kind: 'amount-mismatch', paymentId: e1.paymentId, invoiceNumber: 'INV-1', batchId: BATCH, detail: 'again' });
    await exceptions.add({ kind: 'stray', paymentId: randomUUID(), invoiceNumber: null, batchId: null, detail: 'y' });

    const c = await batchCollection(store, exceptions, BATCH, now);
    expect(c.links).toBe(3);
    expect(c.linkedCents).toBe(60_000);
    expect(c.byState.paid).toEqual({ count: 1, amountCents: 10_000 });
    expect(c.byState.failed).toEqual({ count: 1, amountCents: 20_000 });
    expect(c.byState.unpaid).toEqual({ count: 1, amountCents: 30_000 });
    expect(c.paidCents).toBe(10_000);
    expect(c.collectedPercent).toBe(16.66);
    expect(c.aging['8-30']).toEqual({ count: 1, amountCents: 20_000 });
    expect(c.aging['>90']).toEqual({ count: 1, amountCents: 30_000 });
    expect(c.aging['0-7'].count).toBe(0);
    expect(c.exceptions).toBe(1);
    expect(c.collected).toBe(false);
    expect((await exceptions.list()).map((e) => e.kind).sort()).toEqual(['amount-mismatch', 'stray']);
    expect((await exceptions.pending()).length).toBe(2);
  });
});
