/**
 * The sweep as a user meets it, with real processes: `paylinks payments sync`
 * recovers webhooks the simulator lost (summary line, exit codes, one sweep
 * at a time per account); and a `kill -9` of `paylinks serve` while webhook
 * events arrive (lost, duplicated, out of order) loses no status change: the
 * queue confirms what serve accepted, and the periodic sweep of the next
 * serve recovers what never arrived.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import type { RedisClient } from '../../src/core/lua.js';
import { seededRandom } from '../../src/core/random.js';
import { runFile } from '../../src/index.js';
import { Keys } from '../../src/pipeline/keys.js';
import { PaymentStatusReader } from '../../src/pipeline/payment-status/index.js';
import { startSimulator, type PaymentMove, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { writeInvoices } from '../helpers/csv.js';
import { kill9, killSpawned, logLines, runCliToEnd, waitFor } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv } from '../processes/support.js';
import { startServe } from '../serve/support.js';

const SECRET = 'whsec-sweep-0123456789-abcdefghijklmnop';
const SIM_STATE: Record<string, string> = { initiated: 'unpaid', opened: 'opened', processing: 'processing', success: 'paid', failed: 'failed', rejected: 'rejected', expired: 'expired', retried: 'failed' };

let dir: string;
let redis: RedisClient;
let sim: SimulatorHandle;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-sweep-proc-'));
  redis = connect(testRedisUrl());
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, seed: 17 });
});

afterEach(async () => {
  await killSpawned();
});

afterAll(async () => {
  await sim?.close();
  await redis?.quit();
  await rm(dir, { recursive: true, force: true });
});

/** A batch of `n` links made in this process (real pipeline), its invoices `tag-1..n`. */
async function links(prefix: string, tag: string, n: number): Promise<Map<string, string>> {
  const file = path.join(dir, `${tag}.csv`);
  await writeInvoices(file, Array.from({ length: n }, (_, i) => [`${tag}-${i + 1}`, `${i + 20}.00`, `${tag} ${i + 1}`] as const));
  const config = loadConfig({ dotenvPath: false, env: { ...paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim }), PAYLINKS_RATE_LIMIT: '500', PAYLINKS_LOG_LEVEL: 'silent' } });
  expect((await runFile({ file, config, logger: silentLogger() })).batch.state).toBe('completed');
  return new Map(sim.ledger().filter((l) => l.invoiceNumber?.startsWith(`${tag}-`)).map((l) => [l.invoiceNumber!, l.paymentId]));
}

/** Invoices whose recorded status is not the simulator's. */
async function mismatches(reader: PaymentStatusReader, by: Map<string, string>): Promise<string[]> {
  const statuses = await reader.readStatuses([...by.keys()]);
  const truth = new Map(sim.payments().map((p) => [p.paymentId, p.status]));
  return [...by].flatMap(([invoice, id]) => (statuses.get(invoice)?.status.state === SIM_STATE[truth.get(id)!] ? [] : [`${invoice}: ${statuses.get(invoice)?.status.state} vs ${truth.get(id)}`]));
}

describe('paylinks payments sync (spawned)', () => {
  it('recovers lost webhooks, prints a summary line, exits 0; finds the account locked by another sweep: exit 1, nothing done', async () => {
    const prefix = uniquePrefix('sync-cli');
    const keys = new Keys(prefix);
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES: '0', PAYLINKS_LOG_LEVEL: 'warn' } });
    try {
      const by = await links(prefix, 'CLI', 6);
      sim.setWebhooks({ url: 'http://127.0.0.1:9/lost', lostRate: 1 });
      sim.movePayment(by.get('CLI-1')!, { to: 'paid' });
      sim.movePayment(by.get('CLI-2')!, { to: 'failed', reason: 'Insufficient funds' });
      sim.movePayment(by.get('CLI-3')!, { to: 'opened' });
      const reader = new PaymentStatusReader(redis, keys, API_KEY);
      expect(await mismatches(reader, by)).toHaveLength(3);

      await redis.set(keys.paymentSweepLock(API_KEY), JSON.stringify({ host: 'elsewhere', pid: 4242, since: '2026-12-07T10:00:00.000Z' }), 'PX', 30_000);
      const locked = await runCliToEnd(['payments', 'sync'], { env });
      expect(locked.code, locked.stderr).toBe(1);
      expect(locked.stdout).toContain("Another process is sweeping this account's payments (elsewhere, pid 4242");
      expect(await mismatches(reader, by)).toHaveLength(3);
      await redis.del(keys.paymentSweepLock(API_KEY));

      const result = await runCliToEnd(['payments', 'sync'], { env });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Payment sweep done in \d+\.\d s: 3 statuses updated; received list: 1 page, 1 new payment \(1 recorded, 0 stray\); open links read: 5 \(2 changed\); 6 requests; no errors\.\n$/);
      expect(await mismatches(reader, by)).toEqual([]);
      expect((await reader.readStatuses(['CLI-2'])).get('CLI-2')!.status).toMatchObject({ state: 'failed', failureReason: 'Insufficient funds', confirmedBy: 'sweep' });
      expect(result.stderr).not.toContain(API_SECRET);
    } finally {
      sim.setWebhooks({ url: null, lostRate: 0 });
      await deletePrefix(testRedisUrl(), prefix);
    }
  });
});

describe('paylinks serve killed (-9) while webhook events arrive', () => {
  it('loses no status change: the queue confirms what serve accepted, the periodic sweep of the next serve what never arrived', async () => {
    const prefix = uniquePrefix('sweep-kill');
    const keys = new Keys(prefix);
    const env = (sweepMinutes: string) =>
      paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_WEBHOOK_SECRET: SECRET, PAYLINKS_PAYMENT_SWEEP_MINUTES: sweepMinutes, PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES: '0' } });
    try {
      const by = await links(prefix, 'KIL', 40);
      const first = await startServe(env('0'));
      const hook = (url: string) => `${url}/webhooks/paywint/${SECRET}`;
      const eventsBefore = sim.webhooks().length;
      sim.setWebhooks({ url: hook(first.url), lostRate: 0.1, duplicateRate: 0.2, outOfOrderRate: 0.2, holdMs: 300, retryDelayMs: 100 });
      // Each link walks a path, one step at a time, all links interleaved.
      const paths: PaymentMove[][] = [
        [{ to: 'opened' }, { to: 'processing' }, { to: 'paid' }],
        [{ to: 'opened' }, { to: 'failed', reason: 'Card declined' }],
        [{ to: 'opened' }, { to: 'failed' }, { to: 'paid' }],
        [{ to: 'expired' }],
        [{ to: 'opened' }],
        [],
      ];
      const random = seededRandom(7);
      const plan = [...by.values()].map((id) => ({ id, steps: [...paths[Math.floor(random() * paths.length)]!] }));
      const moves = plan.reduce((n, p) => n + p.steps.length, 0);
      let done = 0;
      let killed = false;
      while (plan.some((p) => p.steps.length > 0)) {
        for (const p of plan) {
          const step = p.steps.shift();
          if (!step) continue;
          sim.movePayment(p.id, step);
          done += 1;
          await sleep(15);
          if (!killed && done >= moves / 2) {
            killed = true;
            expect((await kill9(first.proc)).signal).toBe('SIGKILL');
          }
        }
      }
      await sim.webhooksIdle();
      const records = sim.webhooks().slice(eventsBefore);
      const missed = records.filter((r) => r.fate !== 'delivered');
      // Events were missed (lost by the simulator, or sent to the dead serve) and some came twice or out of order.
      expect(missed.length).toBeGreaterThan(3);
      expect(records.some((r) => r.duplicated) && records.some((r) => r.outOfOrder)).toBe(true);
      const reader = new PaymentStatusReader(redis, keys, API_KEY);
      expect((await mismatches(reader, by)).length).toBeGreaterThan(0);

      // The next serve: its worker confirms the accepted events still queued, its sweep (every 3 s) the rest.
      const second = await startServe(env('0.05'));
      sim.setWebhooks({ url: hook(second.url) });
      await waitFor(async () => (await mismatches(reader, by)).length === 0, 'every status equal to the simulator\'s', 45_000, 250).catch(async (error: Error) => {
        const logs = [...new Set(logLines(second.proc.stderr() + second.proc.stdout()).map((l) => String(l.msg)))];
        throw new Error(`${error.message}: ${(await mismatches(reader, by)).join(', ')}\n${logs.slice(-12).join('\n')}`);
      });
      const statuses = [...(await reader.readStatuses([...by.keys()])).values()];
      expect(statuses.some((s) => s.status.confirmedBy === 'sweep')).toBe(true);
      expect(logLines(second.proc.stderr() + second.proc.stdout()).some((l) => typeof l.msg === 'string' && l.msg.startsWith('Payment sweep done'))).toBe(true);
    } finally {
      sim.setWebhooks({ url: null, lostRate: 0, duplicateRate: 0, outOfOrderRate: 0 });
      await deletePrefix(testRedisUrl(), prefix);
    }
  });
});
