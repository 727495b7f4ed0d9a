/**
 * Redis going away. Mid-batch: the test's own redis-server (append-only file
 * on) is killed and started again on the same port and data dir; the worker
 * processes reconnect by themselves and the batch completes with nothing
 * lost. At start: `paylinks submit` against a closed port fails at once,
 * naming REDIS_URL, and leaves no batch behind.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { Ledger } from '../../src/pipeline/ledger.js';
import { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import { connect, freePort } from '../../src/core/redis.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { killSpawned, runCliToEnd, startOwnRedis, startWorkerProcess, waitFor, type OwnRedis } from '../helpers/processes.js';
import { uniquePrefix } from '../helpers/redis.js';
import { claim } from '../helpers/store.js';
import { API_KEY, API_SECRET, BatchProbe, collect, expectEveryRowCreatedOnce, paylinksEnv, queueCounts, submit, tempDir, writeInvoiceFile } from './support.js';

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;
let redis: OwnRedis | undefined;

beforeEach(async () => {
  dir = await tempDir('redis-restart');
  prefix = uniquePrefix('rr');
});

afterEach(async (context) => {
  await killSpawned();
  await sim?.close();
  sim = undefined;
  await redis?.stop();
  redis = undefined;
  if (context.task.result?.state !== 'fail') await rm(dir, { recursive: true, force: true });
});

describe('Redis restarted mid-batch', () => {
  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    it(`workers reconnect after a ${sig} and a restart of Redis; the batch completes with nothing lost`, async () => {
      redis = await startOwnRedis(path.join(dir, 'redis-data'));
      const rows = 200;
      sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 20, jitterMs: 20 });
      // Locks outlive the outage (the default 30 s): no row may be taken for stalled and run twice.
      const extra = { PAYLINKS_RATE_LIMIT: '40', PAYLINKS_CONCURRENCY: '8', PAYLINKS_LOCK_DURATION_MS: '30000' };
      const env = paylinksEnv({ redisUrl: redis.url, prefix, sim, extra });
      const file = await writeInvoiceFile(dir, 'restart.csv', rows);
      const workers = [await startWorkerProcess(env, 'worker#1'), await startWorkerProcess(env, 'worker#2')];
      const batchId = await submit(file, env);

      await waitFor(() => sim!.ledger().length >= rows / 4, `${rows / 4} links`, 60_000, 20);
      await redis.kill(sig);
      const linksWhileDown = sim.ledger().length;
      await new Promise((r) => setTimeout(r, 2_000));
      // Down: no request can finish its row, so at most those already out reach Paywint.
      expect(sim.ledger().length - linksWhileDown).toBeLessThanOrEqual(16);
      await redis.restart();
      const linksAtRestart = sim.ledger().length;
      expect(linksAtRestart).toBeLessThan(rows);

      // The same worker processes carry on, with nobody restarting them.
      await waitFor(() => sim!.ledger().length >= rows, 'every link after the restart', 90_000, 100);
      for (const w of workers) expect(w.running(), `${w.name} still running`).toBe(true);

      const collected = await collect(batchId, path.join(dir, 'restart.out.csv'), env);
      // No request was lost in the outage, so nothing may even be in doubt.
      expectEveryRowCreatedOnce(collected, sim, rows);
      expect(await queueCounts(redis.url, prefix)).toMatchObject({ active: 0, wait: 0, delayed: 0, failed: 0 });
      const probe = new BatchProbe(redis.url, prefix);
      try {
        expect((await probe.batch(batchId))?.state).toBe('completed');
      } finally {
        probe.close();
      }
      expect(workers.some((w) => /Redis connection error \(will reconnect\)|worker error/.test(w.stderr())), 'the workers saw the outage').toBe(true);
    }, 180_000);
  }
});

describe('a command whose answer a Redis restart swallowed', () => {
  /*
   * On SIGTERM Redis runs the commands it has read, writes them to the
   * append-only file and exits before sending their answers; ioredis sends
   * them again once reconnected, so they run twice. Made deterministic here:
   * while Redis sleeps, a busy script and then the attempt's script arrive;
   * SIGTERM lands during the busy script, so Redis runs the attempt's script
   * next and shuts down before answering it.
   */
  it('beginning an attempt, replayed after the restart, counts one request and no unknown outcome', async () => {
    redis = await startOwnRedis(path.join(dir, 'redis-replay'), undefined, ['--enable-debug-command', 'yes']);
    const keys = new Keys(prefix);
    const worker = connect(redis.url, { forWorker: true, name: 'replay-test' });
    worker.on('error', () => {});
    const admin = [0, 1].map(() => new Redis(redis!.url, { retryStrategy: () => null, autoResendUnfulfilledCommands: false }));
    for (const a of admin) a.on('error', () => {});
    try {
      const ledger = new Ledger(worker, keys, API_KEY);
      const limiter = new RateLimiter(worker, { key: keys.rateLimit(API_KEY), ratePerSecond: 1000 });
      const store = new BatchStore(worker, keys);
      await worker.hset(keys.batch('b1'), { id: 'b1', state: 'running', rows: 2, done: 0 });
      const claimed = await claim(ledger, 'INV-REPLAY', 'b1-r0', 1000, null, store.rowRef('b1', 0));
      expect(claimed.kind).toBe('claimed');
      // As in a running worker, the scripts are already in Redis's cache (so they run by SHA).
      await claim(ledger, 'INV-WARM', 'b1-r1', 1000, null, store.rowRef('b1', 1));
      expect(await ledger.beginAttempt('INV-WARM', 'b1-r1', limiter)).toBeDefined();
      await Promise.all(admin.map((a) => a.ping()));

      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const sleeping = admin[0]!.call('DEBUG', 'SLEEP', '0.6').catch(() => undefined);
      await pause(100);
      const busy = admin[1]!
        .eval("local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - s > 1200000 return 1", 0)
        .then(
          () => 'answered',
          () => 'cut',
        );
      await pause(100);
      const begun = ledger.beginAttempt('INV-REPLAY', 'b1-r0', limiter);
      await sleeping;
      await pause(500); // inside the busy script
      await redis.kill('SIGTERM');
      // The shutdown came while the busy script ran: its answer, and the attempt's, were never sent.
      expect(await busy).toBe('cut');
      await redis.restart();
      const attempt = await begun;

      expect(attempt?.claim).toMatchObject({ owner: 'b1-r0', attempts: 1, unknown: 0, inFlight: 1 });
      const stored = JSON.parse((await worker.hget(keys.claims(API_KEY), 'INV-REPLAY')) ?? '{}') as Record<string, unknown>;
      // One request is about to go out and none is in doubt: the row must not be flagged later.
      expect(stored).toMatchObject({ attempts: 1, unknown: 0, inFlight: 1 });
    } finally {
      worker.disconnect();
      for (const a of admin) a.disconnect();
    }
  }, 60_000);
});

describe('Redis unreachable at start', () => {
  it('paylinks submit exits 2 naming REDIS_URL, and no batch exists once Redis is up', async () => {
    const port = await freePort();
    const env = paylinksEnv({ redisUrl: `redis://127.0.0.1:${port}`, prefix });
    const file = await writeInvoiceFile(dir, 'nowhere.csv', 5);

    const result = await runCliToEnd(['submit', file], { env, timeoutMs: 30_000 });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^paylinks: REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/?: .+\[REDIS_UNAVAILABLE\]\n$/);
    expect(result.stderr).toContain(String(port));
    expect(result.durationMs).toBeLessThan(20_000);

    redis = await startOwnRedis(path.join(dir, 'redis-late'), port);
    const status = await runCliToEnd(['status'], { env, timeoutMs: 30_000 });
    expect(status.code).toBe(0);
    expect(status.stdout.trim()).toBe('No batches yet. Submit one with `paylinks submit FILE`.');
    const json = await runCliToEnd(['status', '--json'], { env, timeoutMs: 30_000 });
    expect(JSON.parse(json.stdout)).toEqual([]);
  }, 90_000);
});
