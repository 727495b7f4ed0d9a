/**
 * Links are indexed for payment statuses where they are recorded: a batch's
 * links (finish-rows) and `ledger import`'s entries are found by payment id
 * with no rebuild pass, and the index's count covers the whole ledger. The
 * rebuild (ensureIndexed) still runs for entries written any other way.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { runFile } from '../../src/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../../src/pipeline/ledger.js';
import { importLedger } from '../../src/pipeline/ledger-records.js';
import { PaymentStatusStore } from '../../src/pipeline/payment-status/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
const API_SECRET = 'sk_test_index-on-write-not-real';

let dir: string;
let prefix: string;
let redis: RedisClient;
let keys: Keys;
let store: PaymentStatusStore;
let sim: SimulatorHandle;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-index-'));
  prefix = uniquePrefix('idx');
  redis = connect(testRedisUrl());
  keys = new Keys(prefix);
  store = new PaymentStatusStore(redis, keys, API_KEY);
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
});

afterAll(async () => {
  await sim?.close();
  await redis?.quit();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

async function indexedCount(): Promise<number> {
  return Number((await redis.hget(keys.paymentMeta(API_KEY), 'indexed')) ?? '0');
}

describe('links indexed as they are recorded', () => {
  it("a batch's links are found by payment id with no rebuild pass", async () => {
    const file = path.join(dir, 'june.csv');
    await writeInvoices(file, Array.from({ length: 40 }, (_, i) => [`INV-${i + 1}`, `${i + 1}.25`, `June ${i + 1}`] as const));
    const config = loadConfig({
      dotenvPath: false,
      env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url, REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '500', PAYLINKS_CONCURRENCY: '8' },
    });
    const result = await runFile({ file, config, logger: silentLogger() });
    expect(result.batch.state).toBe('completed');
    expect(await indexedCount()).toBe(40);
    expect(await store.ensureIndexed()).toBe(false);
    for (const link of sim.ledger()) {
      expect(await store.lookup(link.paymentId)).toMatchObject({ invoiceNumber: link.invoiceNumber, entry: { paymentId: link.paymentId } });
    }
  });

  it("`ledger import`'s entries are indexed too; an entry written by hand is indexed by the rebuild", async () => {
    const before = await indexedCount();
    const ids = [randomUUID(), randomUUID()];
    const file = path.join(dir, 'import.csv');
    await writeFile(file, ['invoice_number,amount,description,payment_id,payment_link', ...ids.map((id, i) => `OLD-${i},10.00,Old ${i},${id},https://pay.sandbox.paywint.com/l/${id}`)].join('\n') + '\n');
    const report = await importLedger({ redis, keys, account: API_KEY, file });
    expect(report.imported).toBe(2);
    expect(await indexedCount()).toBe(before + 2);
    expect(await store.ensureIndexed()).toBe(false);
    expect(await store.lookup(ids[1]!)).toMatchObject({ invoiceNumber: 'OLD-1' });

    const byHand = randomUUID();
    await redis.hset(keys.ledger(API_KEY), 'HAND-1', encodeLedgerEntry({ paymentId: byHand, paymentLink: `https://pay.sandbox.paywint.com/l/${byHand}`, amountCents: 500, description: null, batchId: 'import-x', row: 0, createdAt: new Date().toISOString() }));
    expect(await store.lookup(byHand)).toBeNull();
    expect(await store.ensureIndexed()).toBe(true);
    expect(await store.lookup(byHand)).toMatchObject({ invoiceNumber: 'HAND-1' });
    expect(await indexedCount()).toBe(before + 3);
    expect(await store.ensureIndexed()).toBe(false);
  });
});
