/**
 * Held batches on real Redis: stored with their invalid rows, nothing queued;
 * release queues exactly the valid rows; discard leaves nothing; an unreleased
 * batch expires (here after 1 s instead of 24 h) and its file can come again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { openBackend, type Backend } from '../../src/pipeline/backend.js';
import { discardBatch, releaseBatch } from '../../src/pipeline/hold.js';
import { submitFile } from '../../src/pipeline/producer.js';
import { listRecentBatches } from '../../src/pipeline/status.js';
import type { CreateLinkData } from '../../src/pipeline/create-link-job.js';
import { writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const ACCOUNT = '0d7c3f7e-4c8b-4a43-9b35-3a2f1e0d9c8b';
let dir: string;
let prefix: string;
let backend: Backend;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-hold-'));
  prefix = uniquePrefix('hold');
  backend = await openBackend({ config: { redisUrl: testRedisUrl(), prefix }, logger: silentLogger() });
});

afterEach(async () => {
  await backend.close();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

async function held(file: string, ttl = 3600) {
  return submitFile(file, { redis: backend.redis, store: backend.store, queue: backend.queue, account: ACCOUNT, logger: silentLogger(), hold: true, holdTtlSeconds: ttl, resume: true });
}

describe('held batches', () => {
  it('hold stores and queues nothing; release queues the valid rows once; a second release is refused', async () => {
    const file = path.join(dir, 'held.csv');
    await writeInvoices(file, [
      ['H-1', '10.00', 'a'],
      ['H-2', 'abc', 'bad amount'],
      ['H-3', '12.50', 'c'],
    ]);
    const result = await held(file);
    expect(result).toMatchObject({ state: 'held', rows: 3, valid: 2, invalid: 1, totalCents: 2250, errors: [{ line: 3, code: 'INVALID_AMOUNT' }] });
    expect(await backend.queue.getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });

    expect(await releaseBatch(backend.store, backend.queue, result.batchId)).toEqual({ batchId: result.batchId, queued: 2 });
    const jobs = await backend.queue.getJobs(['waiting', 'prioritized']);
    // Chunk jobs carry row ranges: together they cover the two valid rows (0 and 2), not the invalid one.
    const ranges = jobs.map((j) => j.data as CreateLinkData).sort((a, b) => a.from - b.from);
    expect(ranges.map((d) => [d.from, d.to])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect((await backend.store.get(result.batchId))?.state).toBe('queued');
    expect(await backend.redis.ttl(`{${prefix}}:batch:${result.batchId}`)).toBe(-1);
    await expect(releaseBatch(backend.store, backend.queue, result.batchId)).rejects.toMatchObject({ code: 'BATCH_NOT_HELD' });
    await expect(discardBatch(backend.store, result.batchId)).rejects.toMatchObject({ code: 'BATCH_NOT_HELD' });
  });

  it('discard deletes the batch, its rows and its index entries; the same file is then new', async () => {
    const file = path.join(dir, 'discard.csv');
    await writeInvoices(file, [['D-1', '1.00', 'x']]);
    const first = await held(file);
    await discardBatch(backend.store, first.batchId);
    expect(await backend.store.get(first.batchId)).toBeUndefined();
    expect(await backend.redis.keys(`{${prefix}}:batch:${first.batchId}*`)).toEqual([]);
    expect((await listRecentBatches(backend.store)).map((b) => b.id)).not.toContain(first.batchId);
    await expect(discardBatch(backend.store, first.batchId)).rejects.toMatchObject({ code: 'BATCH_NOT_FOUND' });
    const second = await held(file);
    expect(second.resumed).toBe(false);
    expect(second.batchId).not.toBe(first.batchId);
  });

  it('an unreleased batch expires after its hold time; releasing it then is BATCH_NOT_FOUND', async () => {
    const file = path.join(dir, 'expire.csv');
    await writeInvoices(file, [['E-1', '1.00', 'x'], ['E-2', 'bad', 'y']]);
    const result = await held(file, 1);
    expect((await backend.store.get(result.batchId))?.holdExpiresAt).not.toBeNull();
    await sleep(2100);
    expect(await backend.store.get(result.batchId)).toBeUndefined();
    expect(await backend.redis.keys(`{${prefix}}:batch:${result.batchId}*`)).toEqual([]);
    await expect(releaseBatch(backend.store, backend.queue, result.batchId)).rejects.toMatchObject({ code: 'BATCH_NOT_FOUND' });
    expect((await held(file)).resumed).toBe(false);
  });
});
