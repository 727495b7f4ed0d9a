/**
 * The ledger keyed by the invoice's key (issue 20, item 2, the ledger half):
 * `inv-7` in a later file finds `INV-7`'s link; the number is sent, stored and
 * exported as written; a ledger written before (fields = numbers as written)
 * is moved once, safely, and the payment statuses still find their invoices.
 * `paylinks run` in one process, real Redis, the simulator; what a user would
 * check: the output rows, the simulator's links, the export.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runFile } from '../../src/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { decodeLedgerEntry, encodeLedgerEntry, type LedgerEntry } from '../../src/pipeline/ledger.js';
import { previewFileAgainstLedger } from '../../src/pipeline/ledger-preview.js';
import { exportLedger } from '../../src/pipeline/ledger-records.js';
import { rekeyLedger } from '../../src/pipeline/ledger-rekey.js';
import { PaymentStatusStore } from '../../src/pipeline/payment-status/store.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '7a3c9e1f-2b4d-4f6a-8c0e-1d3f5a7b9c2e';
const API_SECRET = 'ledger-keys-secret';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let redis: Redis;
let keys: Keys;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-ledger-keys-'));
  prefix = uniquePrefix('lkey');
  keys = new Keys(prefix);
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  redis = new Redis(testRedisUrl());
});
afterEach(async (context) => {
  redis.disconnect();
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
      PAYLINKS_TIMEOUT_MS: '2000',
      ...env,
    },
  });
}

async function run(name: string, rows: [string, string, string][]) {
  const file = path.join(dir, name);
  await writeInvoices(file, rows);
  const result = await runFile({ file, config: config(), logger: silentLogger() });
  return { file, result, rows: (await readOutputCsv(result.outputFile!)).rows };
}

describe('invoice numbers that a person reads as one invoice, across runs', () => {
  it('inv-7 in a later file finds INV-7\'s link: exists, nothing sent; another amount is a conflict; the preview says so', async () => {
    const first = await run('first.csv', [['INV-7', '10.00', 'Consulting']]);
    expect(first.rows[0]).toMatchObject({ status: 'created' });
    const link = first.rows[0]!.payment_link;

    const later = await run('later.csv', [[' inv-7 ', '10.00', 'Consulting'], ['Inv-8', '5.00', '']]);
    expect(later.rows[0]).toMatchObject({ invoice_number: ' inv-7 ', status: 'exists', payment_link: link });
    expect(later.rows[1]).toMatchObject({ status: 'created' });
    // The number is sent as written.
    expect(sim.ledger().map((e) => e.invoiceNumber)).toEqual(['INV-7', 'Inv-8']);

    const other = await run('other.csv', [['inv-7', '11.00', 'Consulting'], ['INV-8', '5.00', '']]);
    expect(other.rows[0]).toMatchObject({ status: 'conflict', error_code: 'LEDGER_CONFLICT' });
    expect(other.rows[1]).toMatchObject({ status: 'exists' });
    expect(sim.ledger()).toHaveLength(2);

    const preview = await previewFileAgainstLedger(other.file, {}, redis, keys.ledger(API_KEY));
    expect(preview).toMatchObject({ newRows: 0, linkedRows: 1, conflictRows: 1 });
  });

  it('keeps the number as written: the export shows inv-9 as the file wrote it', async () => {
    await run('lower.csv', [['inv-9', '9.00', '']]);
    expect(await redis.hkeys(keys.ledger(API_KEY))).toEqual(['INV-9']);
    const out = path.join(dir, 'ledger.csv');
    await exportLedger({ redis, keys, account: API_KEY, output: out });
    expect(await readFile(out, 'utf8')).toContain('\r\ninv-9,9.00,,');
  });
});

describe('a ledger written before it was keyed by invoice keys', () => {
  const entry = (id: string, cents: number): LedgerEntry => ({
    paymentId: id,
    paymentLink: `https://pay.sandbox.paywint.com/l/${id}`,
    amountCents: cents,
    description: null,
    batchId: '20260101T000000-abcdef',
    row: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
  });

  it('is moved once, on start: its links are found by any case, statuses still read, a collision kept, nothing sent twice', async () => {
    const ledgerKey = keys.ledger(API_KEY);
    const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
    // As paylinks wrote them before: under the number as written.
    await redis.hset(ledgerKey, 'inv-9', encodeLedgerEntry(entry(ids[0]!, 900)), 'INV-10', encodeLedgerEntry(entry(ids[1]!, 1000)), 'inv-10', encodeLedgerEntry(entry(ids[2]!, 1000)));
    await redis.hset(keys.unsettled(API_KEY), 'inv-11', '2');
    const payments = new PaymentStatusStore(redis, keys, API_KEY);
    await payments.indexLedger();
    expect((await payments.lookup(ids[0]!))?.invoiceNumber).toBe('inv-9');

    // The first run opens the ledger: moved before anything is claimed.
    const { rows } = await run('after.csv', [['INV-9', '9.00', ''], ['Inv-10', '10.00', ''], ['inv-11', '11.00', '']]);
    expect(rows[0]).toMatchObject({ status: 'exists', payment_id: ids[0] });
    expect(rows[1]).toMatchObject({ status: 'exists', payment_id: ids[1] });
    // Two unanswered requests were counted for inv-11 before: not sent (issue 20 item 4, across the move).
    expect(rows[2]).toMatchObject({ status: 'failed', error_code: 'UNKNOWN_OUTCOME', attempts: '0' });
    expect(sim.stats().requests).toBe(0);

    const fields = (await redis.hkeys(ledgerKey)).sort();
    // inv-10 is another link for INV-10's invoice: left under its old field, never lost.
    expect(fields).toEqual(['INV-10', 'INV-9', 'inv-10']);
    expect(decodeLedgerEntry((await redis.hget(ledgerKey, 'INV-9'))!)).toMatchObject({ paymentId: ids[0], invoiceNumber: 'inv-9' });
    expect(await redis.hgetall(keys.unsettled(API_KEY))).toEqual({ 'INV-11': '2' });

    // The payment index written before still finds the invoice and its entry.
    expect(await payments.lookup(ids[0]!)).toMatchObject({ entry: { paymentId: ids[0] } });
    expect((await payments.readStatuses(['inv-9'])).get('inv-9')?.entry.paymentId).toBe(ids[0]);

    // Again: nothing to move.
    expect(await rekeyLedger(redis, keys, API_KEY)).toMatchObject({ scanned: 3, moved: 0, collisions: 1 });
    const out = path.join(dir, 'moved.csv');
    await exportLedger({ redis, keys, account: API_KEY, output: out });
    const exported = await readFile(out, 'utf8');
    for (const written of ['inv-9,', 'INV-10,', 'inv-10,']) expect(exported).toContain(`\r\n${written}`);
  });
});
