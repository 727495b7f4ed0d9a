/**
 * Sending one create-link row, on real Redis against the Paywint simulator:
 * the result union says what happened and carries the claim as the ledger
 * has it afterwards.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { RedisClient } from '../../src/core/lua.js';
import { connect } from '../../src/core/redis.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { Ledger } from '../../src/pipeline/ledger.js';
import { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import { sendRow, type SendDeps } from '../../jobs/create-link/send.js';
import type { WorkRow } from '../../jobs/create-link/row-actions.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { simulatorClient } from '../helpers/simulator.js';
import { claim } from '../helpers/store.js';

let sim: SimulatorHandle;
let prefix: string;
let redis: RedisClient;
let store: BatchStore;
let deps: SendDeps;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  prefix = uniquePrefix('send');
  redis = connect(testRedisUrl());
  const keys = new Keys(prefix);
  store = new BatchStore(redis, keys);
  deps = {
    ledger: new Ledger(redis, keys, sim.apiKey),
    limiter: new RateLimiter(redis, { key: keys.rateLimit(sim.apiKey), ratePerSecond: 1000 }),
    client: simulatorClient(sim),
    maxAttempts: 2,
    retryWindowMs: 60_000,
    logger: silentLogger(),
  };
  sim.setFaults({ errorRate: 0 });
});

afterEach(async (context) => {
  await deps.client.close();
  await redis.quit();
  if (context.task.result?.state !== 'fail') await deletePrefix(testRedisUrl(), prefix);
});

/** A batch of one row, its invoice claimed (its first attempt begun) by job `owner`. */
async function claimed(invoiceNumber: string, owner = 'job-1') {
  const layout = { headers: ['invoice_number', 'amount'], invoice: 0, amount: 1, description: null, delimiter: ',', encoding: 'utf-8' };
  const batchId = await store.create({ file: 'f.csv', sha256: 'abc', account: sim.apiKey, layout, rows: 1, valid: 1 });
  await store.markSubmitted(batchId);
  const outcome = await claim(deps.ledger, invoiceNumber, owner, 12_345, null, store.rowRef(batchId, 0), deps.limiter);
  if (outcome.kind !== 'claimed') throw new Error(`not claimed: ${outcome.kind}`);
  const row: WorkRow = { row: 0, invoiceNumber, amountCents: 12_345, description: null };
  return { batchId, row, claim: outcome.claim, attempt: outcome.attempt };
}

describe('sendRow', () => {
  it('resolves with the link Paywint made and the claim with its one attempt settled', async () => {
    const { batchId, row, claim: held, attempt } = await claimed('INV-SEND-1');
    const sent = await sendRow(deps, batchId, row, 'job-1', held, attempt);
    expect(sent.ok).toBe(true);
    if (!sent.ok) throw sent.error;
    const made = sim.ledger().filter((l) => l.invoiceNumber === 'INV-SEND-1');
    expect(made).toHaveLength(1);
    expect(sent.link.paymentId).toBe(made[0]!.paymentId);
    expect(sent.claim).toMatchObject({ owner: 'job-1', attempts: 1, inFlight: 1 });
  });

  it('with Paywint failing throughout, resolves (never rejects) with the last error once the budget is spent, and the claim counts both attempts', async () => {
    sim.setFaults({ errorRate: 1 });
    const { batchId, row, claim: held, attempt } = await claimed('INV-SEND-2');
    const before = sim.stats().requests;
    const sent = await sendRow(deps, batchId, row, 'job-1', held, attempt);
    expect(sent.ok).toBe(false);
    if (sent.ok) throw new Error('sent');
    expect(sent.error.code).toBe('PAYWINT_SERVER_ERROR');
    expect(sent.claim).toMatchObject({ owner: 'job-1', attempts: 2, inFlight: 0, lastCode: 'PAYWINT_SERVER_ERROR' });
    expect(sim.stats().requests - before).toBe(2);
    expect(sim.ledger().filter((l) => l.invoiceNumber === 'INV-SEND-2')).toHaveLength(0);
  });

  it('shut down before the first request: nothing is sent, and the attempt the claim began is ended as not sent', async () => {
    const { batchId, row, claim: held, attempt } = await claimed('INV-SEND-3');
    const shutdown = new AbortController();
    shutdown.abort();
    const before = sim.stats().requests;
    const sent = await sendRow({ ...deps, signal: shutdown.signal }, batchId, row, 'job-1', held, attempt);
    expect(sent.ok).toBe(false);
    expect(sim.stats().requests).toBe(before);
    expect(sent.claim).toMatchObject({ owner: 'job-1', inFlight: 0, unknown: 0 });
  });
});
