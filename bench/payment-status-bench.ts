/**
 * Status bytes per invoice at a million invoices: a private redis-server (no
 * persistence), a ledger of `invoices` entries as paylinks writes them, then
 * the payment index built from it (every link, nothing heard: `unpaid`), then
 * every invoice paid by webhook. Memory is Redis's `used_memory` before and
 * after each step (the difference is the store's, allocator rounding
 * included) and the sum of `MEMORY USAGE` over the store's keys; the
 * buckets' encoding is checked (listpack, not hashtable).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, startRedisServer } from '../src/core/redis.js';
import type { RedisClient } from '../src/core/lua.js';
import { Keys } from '../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../src/pipeline/ledger.js';
import { encodeRecord, slotOf } from '../src/pipeline/payment-status/encoding.js';
import { PaymentStatusStore } from '../src/pipeline/payment-status/store.js';

const ACCOUNT = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';

export interface StatusBytesResult {
  invoices: number;
  ledgerBytesPerInvoice: number;
  indexBytesPerInvoice: number;
  paidBytesPerInvoice: number;
  memoryUsagePaidPerInvoice: number;
  indexSeconds: number;
  bucketEncoding: string;
  buckets: number;
}

async function usedMemory(redis: RedisClient): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function storeKeysUsage(redis: RedisClient, match: string): Promise<{ bytes: number; keys: number; sample: string }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  let sample = '';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const k of found) pipeline.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, v] of (await pipeline.exec()) ?? []) bytes += Number(v);
    keys += found.length;
    if (!sample && found[0]) sample = found[0];
  } while (cursor !== '0');
  return { bytes, keys, sample };
}

export async function runStatusBytesBench(options: { invoices?: number } = {}): Promise<StatusBytesResult> {
  const invoices = options.invoices ?? 1_000_000;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-status-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  const redis = connect(server.url);
  try {
    const keys = new Keys('bench');
    const store = new PaymentStatusStore(redis, keys, ACCOUNT);
    const ledgerKey = keys.ledger(ACCOUNT);
    const ids: string[] = [];
    const m0 = await usedMemory(redis);
    const createdAt = new Date().toISOString();
    for (let from = 0; from < invoices; from += 10_000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(invoices, from + 10_000); i += 1) {
        const paymentId = randomUUID();
        ids.push(paymentId);
        const n = String(i).padStart(7, '0');
        pipeline.hset(ledgerKey, `INV-${n}`, encodeLedgerEntry({ paymentId, paymentLink: `https://pay.sandbox.paywint.com/l/${paymentId}`, amountCents: 10_000 + (i % 90_000), description: `Invoice ${n}`, batchId: '20261207T100000-a1b2c3', row: i, createdAt }));
      }
      await pipeline.exec();
    }
    const m1 = await usedMemory(redis);
    const t0 = process.hrtime.bigint();
    await store.indexLedger();
    const indexSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const m2 = await usedMemory(redis);
    const now = Date.now();
    for (let from = 0; from < invoices; from += 10_000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(invoices, from + 10_000); i += 1) {
        const paymentId = ids[i]!;
        const slot = slotOf(paymentId);
        const status = { state: 'paid' as const, paymentId, amountPaidCents: 10_000 + (i % 90_000), paidAt: new Date(now - 40_000).toISOString(), failureReason: null, confirmedAt: new Date(now).toISOString(), confirmedBy: 'webhook' as const };
        pipeline.hset(store.bucketKey(slot), slot.field, encodeRecord(`INV-${String(i).padStart(7, '0')}`, status, paymentId, status.amountPaidCents));
      }
      await pipeline.exec();
    }
    const m3 = await usedMemory(redis);
    const usage = await storeKeysUsage(redis, `{bench}:pay:${ACCOUNT}:*`);
    const encoding = String(await redis.object('ENCODING', usage.sample));
    return {
      invoices,
      ledgerBytesPerInvoice: (m1 - m0) / invoices,
      indexBytesPerInvoice: (m2 - m1) / invoices,
      paidBytesPerInvoice: (m3 - m1) / invoices,
      memoryUsagePaidPerInvoice: usage.bytes / invoices,
      indexSeconds,
      bucketEncoding: encoding,
      buckets: usage.keys,
    };
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatStatusBytes(r: StatusBytesResult): string {
  return [
    `invoices                               ${r.invoices.toLocaleString('en-US')}`,
    `ledger (for scale), B/invoice          ${r.ledgerBytesPerInvoice.toFixed(1)}`,
    `payment index, nothing heard, B/inv.   ${r.indexBytesPerInvoice.toFixed(1)}   (used_memory delta; indexing took ${r.indexSeconds.toFixed(1)} s)`,
    `index + status, all paid, B/invoice    ${r.paidBytesPerInvoice.toFixed(1)}   (used_memory delta)`,
    `same, sum of MEMORY USAGE, B/invoice   ${r.memoryUsagePaidPerInvoice.toFixed(1)}   (${r.buckets} buckets, ${r.bucketEncoding})`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const invoices = Number(process.argv[2] ?? 1_000_000);
  console.log(formatStatusBytes(await runStatusBytesBench({ invoices })));
}
