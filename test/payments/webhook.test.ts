/**
 * The Paywint webhook route and the confirmation job, in a real serve (in
 * this process) with the simulator and real Redis: only GET's answer changes
 * a status; duplicates and out-of-order events end in the confirmed status;
 * forged events change nothing and are counted; wrong secret 404; bad bodies
 * 4xx with nothing queued.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { Keys } from '../../src/pipeline/keys.js';
import { encodeLedgerEntry, type LedgerEntry } from '../../src/pipeline/ledger.js';
import { eventJobId, PAYMENT_EVENT_QUEUE } from '../../src/pipeline/payment-event-job.js';
import { PaymentStatusReader } from '../../src/pipeline/payment-status/index.js';
import { startServer, type ServerHandle } from '../../src/serve/server.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const SECRET = 'whsec-0123456789-abcdefghijklmnopqrstuv';
const TOKEN = 'test-token-0123456789-abcdefghij-KLMNOPQR';
const BATCH = '20261207T100000-a1b2c3';

let prefix: string;
let server: ServerHandle;
let redis: RedisClient;
let keys: Keys;
let account: string;
let reader: PaymentStatusReader;
let queue: Queue;

beforeAll(async () => {
  prefix = uniquePrefix('hook');
  const config = loadConfig({
    dotenvPath: false,
    env: { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_WEBHOOK_SECRET: SECRET, PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_HTTP_PORT: '0', PAYLINKS_LOG_LEVEL: 'silent' },
  });
  server = await startServer({ config, logger: silentLogger(), simulate: true });
  redis = connect(testRedisUrl());
  keys = new Keys(prefix);
  account = server.simulator!.apiKey;
  reader = new PaymentStatusReader(redis, keys, account);
  queue = new Queue(PAYMENT_EVENT_QUEUE, { connection: redis, prefix: keys.bullPrefix });
});

afterAll(async () => {
  await queue?.close();
  await server?.close();
  await redis?.quit();
  await deletePrefix(testRedisUrl(), prefix);
});

/** A link made at the simulator and recorded in paylinks' ledger, as a batch would. */
async function linked(invoiceNumber: string, amountCents = 15075): Promise<LedgerEntry> {
  const made = server.simulator!.createStrayLink({ amountCents, invoiceNumber, description: `Invoice ${invoiceNumber}` });
  const entry: LedgerEntry = { paymentId: made.paymentId, paymentLink: made.paymentLink, amountCents, description: `Invoice ${invoiceNumber}`, batchId: BATCH, row: 0, createdAt: new Date().toISOString() };
  await redis.hset(keys.ledger(account), invoiceNumber, encodeLedgerEntry(entry));
  return entry;
}

function post(body: unknown, secret = SECRET, raw?: string): Promise<Response> {
  return fetch(`${server.url}/webhooks/paywint/${secret}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) });
}

function event(name: string, paymentId: string, id: string = randomUUID()) {
  return { event: name, id, data: { payment_id: paymentId, status: name.split('.')[1], amount: 599 }, eventGeneratedTime: Date.now() / 1000 };
}

async function settled(eventId: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await queue.getJob(eventJobId(eventId));
    if (job && (await job.isCompleted())) return String(job.returnvalue);
    if (Date.now() > deadline) throw new Error(`event ${eventId} not confirmed in 30 s (state ${job ? await job.getState() : 'none'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function statusOf(invoice: string) {
  return (await reader.readStatuses([invoice])).get(invoice)!.status;
}

describe('POST /webhooks/paywint/{secret}', () => {
  it('answers 404 for a wrong secret and queues nothing; needs no API token', async () => {
    const e = await linked('INV-W404');
    const ev = event('payment.success', e.paymentId);
    const wrong = await post(ev, SECRET.replace(/.$/, 'X'));
    expect(wrong.status).toBe(404);
    expect(await wrong.text()).not.toContain(SECRET.slice(0, 20));
    expect(await queue.getJob(eventJobId(ev.id))).toBeUndefined();
  });

  it('answers 400 for bad bodies and records nothing', async () => {
    const e = await linked('INV-BAD');
    const before = await queue.getJobCounts('waiting', 'active', 'completed', 'delayed');
    for (const bad of [{}, { event: 'payment.success', id: 'x y', data: { payment_id: e.paymentId } }, { event: 'payment.success', id: randomUUID(), data: {} }]) {
      expect((await post(bad)).status).toBe(400);
    }
    expect((await post(undefined, SECRET, '{"event": "payment.success", ')).status).toBe(400);
    expect((await post(undefined, SECRET, JSON.stringify({ ...event('payment.success', e.paymentId), pad: 'x'.repeat(20_000) }))).status).toBe(413);
    expect(await queue.getJobCounts('waiting', 'active', 'completed', 'delayed')).toEqual(before);
    expect((await statusOf('INV-BAD')).state).toBe('unpaid');
  });

  it('a forged payment.success for an unpaid link leaves it unpaid, and is counted and kept as an exception', async () => {
    const e = await linked('INV-FORGED');
    const ev = event('payment.success', e.paymentId);
    expect((await post(ev)).status).toBe(202);
    expect(await settled(ev.id)).toBe('contradicted');
    expect((await statusOf('INV-FORGED')).state).toBe('unpaid');
    expect((await reader.store.counters()).webhooks_contradicted).toBeGreaterThanOrEqual(1);
    expect((await reader.exceptions(BATCH)).some((x) => x.kind === 'event-contradicted' && x.invoiceNumber === 'INV-FORGED')).toBe(true);
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/paylinks_webhooks_total\{outcome="contradicted"\} [1-9]/);
  });

  it('duplicate and out-of-order events end in the confirmed status (paid)', async () => {
    const e = await linked('INV-PAID');
    server.simulator!.movePayment(e.paymentId, { to: 'opened' });
    server.simulator!.movePayment(e.paymentId, { to: 'processing' });
    server.simulator!.movePayment(e.paymentId, { to: 'paid' });
    const success = event('payment.success', e.paymentId);
    const processing = event('payment.processing', e.paymentId);
    const opened = event('payment.opened', e.paymentId);
    // Newest first, each twice.
    for (const ev of [success, success, processing, opened, processing, opened]) expect((await post(ev)).status).toBe(202);
    for (const ev of [success, processing, opened]) await settled(ev.id);
    const status = await statusOf('INV-PAID');
    expect(status).toMatchObject({ state: 'paid', amountPaidCents: 15075, confirmedBy: 'webhook' });
    expect(status.paidAt).not.toBeNull();
    expect((await reader.batchCollection(BATCH)).byState.paid.count).toBeGreaterThanOrEqual(1);
  });

  it('an event for a payment id paylinks has no record of is kept as an exception', async () => {
    const ev = event('payment.success', randomUUID());
    expect((await post(ev)).status).toBe(202);
    expect(await settled(ev.id)).toBe('unknown-payment');
    expect((await reader.exceptions('all')).some((x) => x.kind === 'stray' && x.paymentId === ev.data.payment_id)).toBe(true);
  });
});
