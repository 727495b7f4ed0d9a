/**
 * Answers that must never become a link a person mails, and a wrong base URL
 * that must stop the batch: `paylinks run` in one process, real Redis, the
 * simulator or a raw HTTP server over loopback, the output CSV and the ledger
 * read back as a user would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runFile } from '../../src/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { SIMULATOR_DEMO_API_KEY } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { reply, startRawServer, type RawServer } from '../helpers/simulator.js';

const API_KEY = '3f0c9a52-7d4e-4b7a-9c1e-2a6f5b8d9e01';
let dir: string;
let prefix: string;
const servers: RawServer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-answers-'));
  prefix = uniquePrefix('ans');
});
afterEach(async (context) => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

function config(env: Record<string, string> = {}) {
  return loadConfig({
    dotenvPath: false,
    env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: 'sk_test_x', REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '200', PAYLINKS_CONCURRENCY: '4', PAYLINKS_TIMEOUT_MS: '5000', ...env },
  });
}

async function invoices(name: string, n: number): Promise<string> {
  const file = path.join(dir, name);
  await writeInvoices(file, Array.from({ length: n }, (_, i) => [`INV-${i + 1}`, `${i + 10}.50`, `Invoice ${i + 1}`]));
  return file;
}

async function ledgerSize(account: string): Promise<number> {
  const redis = new Redis(testRedisUrl());
  try {
    return await redis.hlen(new Keys(prefix).ledger(account));
  } finally {
    redis.disconnect();
  }
}

describe('links only on Paywint\'s hosts', () => {
  it('the simulator\'s links pass the same check as Paywint\'s', async () => {
    const result = await runFile({ file: await invoices('ok.csv', 3), config: config(), simulate: true, logger: silentLogger() });
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(['created', 'created', 'created']);
    expect(rows.every((r) => r.payment_link!.startsWith('https://pay.sandbox.paywint.com/'))).toBe(true);
  });

  it('a 200 with a link on another host: a protocol error, nothing recorded as created, no link in the output', async () => {
    const result = await runFile({ file: await invoices('evil.csv', 5), config: config(), simulate: { linkBaseUrl: 'https://evil.example/x' }, logger: silentLogger() });
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(Array(5).fill('failed'));
    expect(rows.map((r) => r.error_code)).toEqual(Array(5).fill('PAYWINT_PROTOCOL'));
    expect(rows[0]!.error_message).toContain("a link on evil.example, not on Paywint's hosts (sandbox.paywint.com; PAYWINT_LINK_HOSTS sets them)");
    expect(rows.every((r) => !r.payment_link && !r.payment_id)).toBe(true);
    expect(await ledgerSize(SIMULATOR_DEMO_API_KEY)).toBe(0);
  });

  it('PAYWINT_LINK_HOSTS lets a link on the named host through', async () => {
    const result = await runFile({ file: await invoices('own.csv', 2), config: config({ PAYWINT_LINK_HOSTS: 'links.example.org' }), simulate: { linkBaseUrl: 'https://pay.links.example.org/p' }, logger: silentLogger() });
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows.map((r) => r.status)).toEqual(['created', 'created']);
  });
});

describe('a wrong PAYWINT_BASE_URL', () => {
  it.each([
    ['a 404', (res: Parameters<typeof reply>[0]) => reply(res, 404, { detail: 'Not Found' }), /there is no create endpoint under PAYWINT_BASE_URL/],
    ['a redirect to https', (res: Parameters<typeof reply>[0]) => reply(res, 301, '', { location: 'https://api.sandbox.paywint.com/api/user-api/payment/create-payment-link' }), /use https:\/\/ in PAYWINT_BASE_URL, not http:\/\//],
  ])('%s on the create endpoint stops the batch as a 401 does, saying what to check', async (_name, answer, message) => {
    const server = await startRawServer((_req, res) => answer(res));
    servers.push(server);
    const result = await runFile({ file: await invoices('wrong.csv', 100), config: config({ PAYWINT_BASE_URL: server.url }), logger: silentLogger() });

    expect(result.batch).toMatchObject({ state: 'failed', stopCode: 'BATCH_STOPPED_BASE_URL' });
    expect(result.batch.stopMessage).toMatch(message);
    expect(server.requests.length).toBeLessThanOrEqual(8);
    const rows = (await readOutputCsv(result.outputFile!)).rows;
    expect(rows.every((r) => r.status === 'failed')).toBe(true);
    expect(rows.filter((r) => r.error_code === 'BATCH_STOPPED_BASE_URL').length).toBeGreaterThan(90);
  });
});
