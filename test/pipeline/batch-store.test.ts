/**
 * Recording rows, on real Redis: what the output and the batch state show
 * when a submission dies half-way, and when two runs of one row both made a
 * link.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { Ledger, type LedgerEntry } from '../../src/pipeline/ledger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { claim, finishRow } from '../helpers/store.js';

const API_KEY = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';

let prefix: string;
let redis: RedisClient;
let store: BatchStore;
let ledger: Ledger;

beforeEach(() => {
  prefix = uniquePrefix('store');
  redis = connect(testRedisUrl());
  const keys = new Keys(prefix);
  store = new BatchStore(redis, keys);
  ledger = new Ledger(redis, keys, API_KEY);
});

afterEach(async (context) => {
  await redis.quit();
  if (context.task.result?.state !== 'fail') await deletePrefix(testRedisUrl(), prefix);
});

async function newBatch(rows: number): Promise<string> {
  const layout = { headers: ['invoice_number', 'amount'], invoice: 0, amount: 1, description: null, delimiter: ',', encoding: 'utf-8' };
  return store.create({ file: 'f.csv', sha256: 'abc', account: API_KEY, layout, rows, valid: rows });
}

function entry(paymentId: string, batchId: string): LedgerEntry {
  return { paymentId, paymentLink: `https://pay.example/${paymentId}`, amountCents: 150, description: null, batchId, row: 0, createdAt: '2026-11-23T00:00:00Z' };
}

async function createdBy(batchId: string, owner: string, paymentId: string): Promise<boolean> {
  return finishRow(
    store,
    batchId,
    0,
    { status: 'created', paymentId, paymentLink: `https://pay.example/${paymentId}`, attempts: 1 },
    { invoiceNumber: 'INV-1', claimOwner: owner, ledgerEntry: entry(paymentId, batchId), ledgerKey: ledger.ledgerKey, claimsKey: ledger.claimsKey, unsettledKey: ledger.unsettledKey, amountCents: 150 },
  );
}

describe('a batch still being submitted', () => {
  it('stays `submitting` while its first rows finish, so a submission that fails half-way ends the batch as failed', async () => {
    const batchId = await newBatch(3);
    await claim(ledger, 'INV-1', 'job-1', 150, null, store.rowRef(batchId, 0));
    expect(await createdBy(batchId, 'job-1', 'p-1')).toBe(true);
    expect(await store.getState(batchId)).toBe('submitting');

    // The producer's error path: only a batch still submitting is failed.
    expect(await store.transition(batchId, ['submitting'], 'failed', { code: 'INTERNAL', message: 'submission did not finish' })).toBe('failed');
    const batch = await store.get(batchId);
    expect(batch).toMatchObject({ state: 'failed', done: 1, stopCode: 'INTERNAL' });
  });

  it('runs once submitted', async () => {
    const batchId = await newBatch(3);
    await store.markSubmitted(batchId);
    await claim(ledger, 'INV-1', 'job-1', 150, null, store.rowRef(batchId, 0));
    await createdBy(batchId, 'job-1', 'p-1');
    expect(await store.getState(batchId)).toBe('running');
  });
});

describe('two runs of one row (a job re-run while its first run was still sending)', () => {
  it('the second link is never dropped: the recorded row names it and the ledger keeps one', async () => {
    const batchId = await newBatch(1);
    await store.markSubmitted(batchId);
    await claim(ledger, 'INV-1', 'job-1', 150, null, store.rowRef(batchId, 0));
    expect(await createdBy(batchId, 'job-1', 'p-first')).toBe(true);
    expect(await createdBy(batchId, 'job-1', 'p-second')).toBe(false);

    const [result] = await store.readResults(batchId, 0, 1);
    expect(result).toMatchObject({ status: 'created', paymentId: 'p-first', errorCode: 'POSSIBLE_DUPLICATE_LINK' });
    expect(result?.errorMessage).toContain('another run of this row also created link p-second (https://pay.example/p-second)');
    const batch = await store.get(batchId);
    expect(batch).toMatchObject({ done: 1, counts: { created: 1 }, state: 'completed' });
    // The ledger keeps the first link: a later file with this invoice reports it as existing.
    const again = await claim(ledger, 'INV-1', 'job-9', 150, null, store.rowRef(batchId, 5));
    expect(again).toMatchObject({ kind: 'exists', entry: { paymentId: 'p-first' } });
  });

  it('the same link recorded twice (a replayed write) changes nothing', async () => {
    const batchId = await newBatch(1);
    await store.markSubmitted(batchId);
    await claim(ledger, 'INV-1', 'job-1', 150, null, store.rowRef(batchId, 0));
    await createdBy(batchId, 'job-1', 'p-first');
    expect(await createdBy(batchId, 'job-1', 'p-first')).toBe(false);
    const [result] = await store.readResults(batchId, 0, 1);
    expect(result).toMatchObject({ status: 'created', paymentId: 'p-first', errorCode: null });
  });
});

describe('finish events', () => {
  const failed = { status: 'failed' as const, errorCode: 'PAYWINT_SERVER_ERROR', errorMessage: 'gave up', attempts: 8 };
  const created = { status: 'created' as const, paymentId: 'p', paymentLink: 'https://pay.example/p', attempts: 1 };

  it('one per finish: none while rows are left, one when the last row is recorded (however often rows are recorded again), another after a retry finishes it again', async () => {
    const id = await newBatch(3);
    await store.markSubmitted(id);
    expect(await finishRow(store, id, 0, created)).toBe(true);
    expect(await finishRow(store, id, 1, failed)).toBe(true);
    expect(await store.pendingFinishes(10), 'no event for a running batch').toEqual([]);
    expect(await finishRow(store, id, 2, created)).toBe(true);
    expect(await finishRow(store, id, 2, created)).toBe(false);
    expect(await store.pendingFinishes(10)).toEqual([{ eventId: `${id}-f1`, batchId: id }]);

    await store.settleFinish(`${id}-f1`);
    expect(await store.reopenRows(id, [1])).toEqual([1]);
    expect(await store.pendingFinishes(10)).toEqual([]);
    expect(await finishRow(store, id, 1, created)).toBe(true);
    expect(await store.pendingFinishes(10)).toEqual([{ eventId: `${id}-f2`, batchId: id }]);
  });

  it('a batch cancelled before its rows ran finishes, with one event, once its remaining rows are recorded', async () => {
    const id = await newBatch(2);
    await store.markSubmitted(id);
    expect(await store.transition(id, ['queued', 'running'], 'cancelled', { code: 'BATCH_CANCELLED', message: 'cancelled by a user' })).toBe('cancelled');
    expect(await store.pendingFinishes(10)).toEqual([]);
    const cancelled = { status: 'failed' as const, errorCode: 'BATCH_CANCELLED', errorMessage: 'not sent', attempts: 0 };
    await finishRow(store, id, 0, cancelled);
    await finishRow(store, id, 1, cancelled);
    expect(await store.pendingFinishes(10)).toEqual([{ eventId: `${id}-f1`, batchId: id }]);
    expect((await store.get(id))?.state).toBe('cancelled');
  });

  it('a stopped batch whose rows were never sent finishes at once, with one event, whoever settles it (reading it writes nothing); a retry makes it finish again', async () => {
    const id = await newBatch(3);
    await store.markSubmitted(id);
    expect(await finishRow(store, id, 0, created)).toBe(true);
    expect(await store.transition(id, ['queued', 'running'], 'failed', { code: 'BATCH_STOPPED_AUTH', message: 'refused' })).toBe('failed');
    // Nothing in flight: the state accounts for rows 1 and 2; reading the batch says so and records nothing.
    expect(await store.get(id)).toMatchObject({ done: 3, unsent: 2 });
    expect(await store.pendingFinishes(10), 'a read records no event').toEqual([]);
    // Settling it records its finish, once, however many settle it at once.
    await Promise.all([store.settleStopped(id), store.settleStopped(id)]);
    const [first, second] = await Promise.all([store.get(id), store.get(id)]);
    expect(first).toMatchObject({ done: 3, unsent: 2, counts: { created: 1, failed: 2 } });
    expect(second).toMatchObject({ done: 3, unsent: 2 });
    expect(await store.get(id)).toMatchObject({ done: 3 });
    expect(await store.pendingFinishes(10)).toEqual([{ eventId: `${id}-f1`, batchId: id }]);
    await store.settleFinish(`${id}-f1`);

    // A retry runs the stopped batch again: no event while its rows are out, one when they are recorded.
    await store.reopenRows(id, [], true);
    expect(await store.get(id)).toMatchObject({ state: 'running', done: 1 });
    expect(await store.pendingFinishes(10)).toEqual([]);
    await finishRow(store, id, 1, created);
    await finishRow(store, id, 2, created);
    expect(await store.pendingFinishes(10)).toEqual([{ eventId: `${id}-f2`, batchId: id }]);
  });
});
