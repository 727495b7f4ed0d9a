/**
 * `npm run bench -- scale`: a million-row batch as a new user runs it, and
 * the figures of issue 10's table, measured in one run:
 *
 * - `paylinks run` of a 1,000,000-row CSV (zero latency, rate limit
 *   10,000/s, concurrency 50, the simulator in its own process, a fresh
 *   private Redis): end-to-end rows/s, the run process's peak RSS, Redis
 *   memory per row at its peak during the batch and kept after it (ledger,
 *   results, rows);
 * - `paylinks cancel`, then `paylinks collect`, of a 200,000-row batch no
 *   worker works on: seconds;
 * - a 401 that stops a 1,000,000-row batch (`paylinks worker` with a wrong
 *   secret): seconds until every row is accounted for;
 * - peak RSS of every other paylinks process of the run (submit, worker,
 *   cancel, collect);
 * - the overhead ratio at 20,000 rows, c=50 (see pipeline-bench.ts).
 *
 * Usage: `node dist/bench/scale-bench.js [--rows 1000000] [--cancel-rows 200000] [--overhead-rows 20000]`
 */
import { spawn } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { BatchStore } from '../src/pipeline/batch-store.js';
import { Keys } from '../src/pipeline/keys.js';
import { startRedisServer, type RedisServer } from '../src/core/redis.js';
import { API_KEY, API_SECRET, BIN, overhead, startSimProcess, writeInvoiceFile, type OverheadResult, type Sim } from './pipeline-bench.js';

const MB = 1024 * 1024;

export const SCALE_GOALS = {
  rowsPerSecond: 4_000,
  peakRssBytes: 250 * MB,
  redisPeakBytesPerRow: 600,
  redisKeptBytesPerRow: 400,
  ledgerBytesPerInvoice: 150,
  cancelCollectSeconds: 5,
  authStopSeconds: 5,
  overheadRatio: 0.5,
} as const;

interface ProcessRun {
  code: number | null;
  seconds: number;
  peakRssBytes: number;
  stdout: string;
  stderr: string;
}

/** Reads a process's peak RSS (VmHWM) from /proc; 0 once it is gone. */
async function peakRssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Spawned {
  pid: number;
  /** Resolves once it exited, with its run. */
  done: Promise<ProcessRun>;
  signal(sig: NodeJS.Signals): void;
}

/** Runs `paylinks ARGS` and watches its peak RSS. */
function paylinks(args: string[], env: Record<string, string>, onPoll?: () => Promise<void>): Spawned {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  let peak = 0;
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  const poll = (async () => {
    while (!exited) {
      peak = Math.max(peak, await peakRssOf(child.pid!));
      await onPoll?.();
      await sleep(100);
    }
  })();
  return {
    pid: child.pid!,
    signal: (sig) => child.kill(sig),
    done: (async () => {
      const code = await exit;
      await poll;
      return { code, seconds: (performance.now() - started) / 1000, peakRssBytes: peak, stdout, stderr };
    })(),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function keyBytes(redis: Redis, key: string): Promise<number> {
  return Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}

function envFor(redis: RedisServer, sim: Sim, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    PAYLINKS_PREFIX: prefix,
    PAYWINT_API_KEY: API_KEY,
    PAYWINT_API_SECRET: API_SECRET,
    PAYWINT_BASE_URL: sim.url,
    PAYLINKS_RATE_LIMIT: '10000',
    PAYLINKS_CONCURRENCY: '50',
    PAYLINKS_LOG_LEVEL: 'warn',
    PAYLINKS_METRICS_PORT: '0',
    ...extra,
  };
}

function expectOk(run: ProcessRun, what: string, codes: readonly number[] = [0, 1]): void {
  if (!codes.includes(run.code ?? -1)) throw new Error(`${what} exited ${run.code}:\n${run.stderr}`);
}

async function submit(file: string, env: Record<string, string>): Promise<{ batchId: string; run: ProcessRun }> {
  const run = await paylinks(['submit', file, '--json'], env).done;
  expectOk(run, 'paylinks submit');
  return { batchId: (JSON.parse(run.stdout) as { batch_id: string }).batch_id, run };
}

export interface ScaleResult {
  rows: number;
  run: { seconds: number; rowsPerSecond: number; peakRssBytes: number; created: number };
  redis: { peakBytesPerRow: number; keptBytesPerRow: number; ledgerBytesPerInvoice: number; resultsBytesPerRow: number; rowsBytesPerRow: number };
  cancel: { rows: number; cancelSeconds: number; collectSeconds: number; seconds: number; outputRows: number };
  authStop: { rows: number; seconds: number; accounted: number; requests: number };
  peakRss: Record<string, number>;
  overhead: OverheadResult;
}

export async function runScaleBench(options: { rows?: number; cancelRows?: number; overheadRows?: number } = {}): Promise<ScaleResult> {
  const rows = options.rows ?? 1_000_000;
  const cancelRows = options.cancelRows ?? 200_000;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-scale-'));
  const sim = await startSimProcess();
  const peakRss: Record<string, number> = {};
  try {
    // 1. `paylinks run` of the big file, on a fresh Redis.
    const redis = await startRedisServer({ dataDir: path.join(dir, 'redis'), appendOnly: true });
    const admin = new Redis(redis.url);
    const keys = new Keys('scale');
    let result: Omit<ScaleResult, 'overhead'>;
    try {
      const file = path.join(dir, 'big.csv');
      await writeInvoiceFile(file, rows, 'S');
      const baseline = await usedMemory(admin);
      let peakMemory = baseline;
      const env = envFor(redis, sim, 'scale');
      const run = await paylinks(['run', file, '-o', path.join(dir, 'big.out.csv')], env, async () => {
        peakMemory = Math.max(peakMemory, await usedMemory(admin).catch(() => 0));
      }).done;
      expectOk(run, 'paylinks run');
      peakRss.run = run.peakRssBytes;
      const store = new BatchStore(admin, keys);
      const [batchId] = await store.recent(1);
      const batch = await store.get(batchId!);
      const kept = (await usedMemory(admin)) - baseline;
      const ledgerBytes = await keyBytes(admin, keys.ledger(API_KEY));
      const resultsBytes = await keyBytes(admin, keys.batchResults(batchId!));
      const rowsBytes = await keyBytes(admin, keys.batchRows(batchId!));
      await rm(file, { force: true });
      await rm(path.join(dir, 'big.out.csv'), { force: true });

      // 2. Cancel, then collect, a batch no worker works on.
      const cancelFile = path.join(dir, 'cancel.csv');
      await writeInvoiceFile(cancelFile, cancelRows, 'C');
      const cancelEnv = envFor(redis, sim, 'scale-cancel');
      const cancelled = await submit(cancelFile, cancelEnv);
      peakRss.submitCancelBatch = cancelled.run.peakRssBytes;
      const cancelRun = await paylinks(['cancel', cancelled.batchId], cancelEnv).done;
      expectOk(cancelRun, 'paylinks cancel');
      const collectRun = await paylinks(['collect', cancelled.batchId, '-o', path.join(dir, 'cancel.out.csv')], cancelEnv).done;
      expectOk(collectRun, 'paylinks collect');
      peakRss.cancel = cancelRun.peakRssBytes;
      peakRss.collectCancelled = collectRun.peakRssBytes;
      const cancelOut = (await readFile(path.join(dir, 'cancel.out.csv'), 'utf8')).split('\r\n').filter((l) => l.includes('BATCH_CANCELLED')).length;
      await rm(path.join(dir, 'cancel.out.csv'), { force: true });

      // 3. A 401 stops a big batch: a worker whose secret Paywint refuses.
      const authFile = path.join(dir, 'auth.csv');
      await writeInvoiceFile(authFile, rows, 'A');
      const authEnv = envFor(redis, sim, 'scale-auth');
      const auth = await submit(authFile, authEnv);
      peakRss.submit = auth.run.peakRssBytes;
      await rm(authFile, { force: true });
      const authStore = new BatchStore(admin, new Keys('scale-auth'));
      const requestsBefore = (await sim.stats()).requests;
      const worker = paylinks(['worker'], { ...authEnv, PAYWINT_API_SECRET: 'a-secret-paywint-refuses' });
      const workerStarted = performance.now();
      let stopped: { seconds: number; accounted: number } | undefined;
      let refusedAt = 0;
      while (performance.now() - workerStarted < 300_000) {
        const b = await authStore.get(auth.batchId);
        if (b?.state === 'failed' && refusedAt === 0) refusedAt = performance.now();
        if (b && b.state === 'failed' && b.done >= b.rows) {
          stopped = { seconds: (performance.now() - refusedAt) / 1000, accounted: b.done };
          break;
        }
        await sleep(20);
      }
      worker.signal('SIGTERM');
      const workerRun = await worker.done;
      peakRss.worker = workerRun.peakRssBytes;
      const authCollect = await paylinks(['collect', auth.batchId, '-o', path.join(dir, 'auth.out.csv')], authEnv).done;
      expectOk(authCollect, 'paylinks collect', [2]); // a batch stopped by a 401 exits 2
      peakRss.collect = authCollect.peakRssBytes;
      await rm(path.join(dir, 'auth.out.csv'), { force: true });

      result = {
        rows,
        run: { seconds: run.seconds, rowsPerSecond: rows / run.seconds, peakRssBytes: run.peakRssBytes, created: batch?.counts.created ?? 0 },
        redis: {
          peakBytesPerRow: (peakMemory - baseline) / rows,
          keptBytesPerRow: kept / rows,
          ledgerBytesPerInvoice: ledgerBytes / rows,
          resultsBytesPerRow: resultsBytes / rows,
          rowsBytesPerRow: rowsBytes / rows,
        },
        cancel: { rows: cancelRows, cancelSeconds: cancelRun.seconds, collectSeconds: collectRun.seconds, seconds: cancelRun.seconds + collectRun.seconds, outputRows: cancelOut },
        authStop: { rows, seconds: stopped?.seconds ?? Number.NaN, accounted: stopped?.accounted ?? 0, requests: (await sim.stats()).requests - requestsBefore },
        peakRss,
      };
    } finally {
      admin.disconnect();
      await redis.stop();
    }

    // 4. The overhead ratio, on its own fresh Redis.
    const overheadRedis = await startRedisServer({ dataDir: path.join(dir, 'redis-overhead'), appendOnly: true });
    try {
      return { ...result, overhead: await overhead(sim, overheadRedis, dir, options.overheadRows ?? 20_000) };
    } finally {
      await overheadRedis.stop();
    }
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(0)} MB`;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

export function formatScaleBench(r: ScaleResult): string {
  const g = SCALE_GOALS;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const maxRss = Math.max(...Object.values(r.peakRss));
  const lines = [
    `| figure | measured | goal |`,
    `| --- | --- | --- |`,
    `| end to end, \`paylinks run\` of ${n(r.rows)} rows (validate, submit, work, collect) | ${n(r.run.rowsPerSecond)} rows/s (${r.run.seconds.toFixed(0)} s, ${n(r.run.created)} created) | ≥ ${n(g.rowsPerSecond)} rows/s: ${verdict(r.run.rowsPerSecond >= g.rowsPerSecond)} |`,
    `| peak RSS of the \`run\` process | ${mb(r.run.peakRssBytes)} | ≤ 250 MB: ${verdict(r.run.peakRssBytes <= g.peakRssBytes)} |`,
    `| peak RSS of every paylinks process | ${Object.entries(r.peakRss).map(([k, v]) => `${k} ${mb(v)}`).join(', ')} | ≤ 250 MB: ${verdict(maxRss <= g.peakRssBytes)} |`,
    `| Redis peak during the batch | ${n(r.redis.peakBytesPerRow)} B per row | ≤ ${g.redisPeakBytesPerRow} B per row: ${verdict(r.redis.peakBytesPerRow <= g.redisPeakBytesPerRow)} |`,
    `| Redis kept after the batch | ${n(r.redis.keptBytesPerRow)} B per row (ledger ${n(r.redis.ledgerBytesPerInvoice)} B per invoice, results ${n(r.redis.resultsBytesPerRow)}, rows ${n(r.redis.rowsBytesPerRow)}) | ≤ ${g.redisKeptBytesPerRow} B per row: ${verdict(r.redis.keptBytesPerRow <= g.redisKeptBytesPerRow)}; ledger ≤ ${g.ledgerBytesPerInvoice} B per invoice: ${verdict(r.redis.ledgerBytesPerInvoice <= g.ledgerBytesPerInvoice)} |`,
    `| \`cancel\`, then \`collect\`, of a ${n(r.cancel.rows)}-row batch nobody works on | ${r.cancel.seconds.toFixed(1)} s (cancel ${r.cancel.cancelSeconds.toFixed(1)} s, collect ${r.cancel.collectSeconds.toFixed(1)} s; ${n(r.cancel.outputRows)} rows BATCH_CANCELLED) | ≤ ${g.cancelCollectSeconds} s: ${verdict(r.cancel.seconds <= g.cancelCollectSeconds)} |`,
    `| a 401 that stops a ${n(r.authStop.rows)}-row batch | every row accounted ${r.authStop.seconds.toFixed(1)} s after the stop (${n(r.authStop.accounted)} rows, ${r.authStop.requests} requests sent) | ≤ ${g.authStopSeconds} s: ${verdict(r.authStop.seconds <= g.authStopSeconds)} |`,
    `| overhead: ${n(r.overhead.rows)} rows, zero latency, c=${r.overhead.concurrency}, \`paylinks run\` ÷ a plain script | ${n(r.overhead.paylinksRowsPerSecond)} ÷ ${n(r.overhead.plainRowsPerSecond)} rows/s = ${r.overhead.ratio.toFixed(2)} (BullMQ alone, one job per row: ${r.overhead.bullmqRatio.toFixed(2)}) | ≥ ${g.overheadRatio}: ${verdict(r.overhead.ratio >= g.overheadRatio)} |`,
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, 'cancel-rows': { type: 'string' }, 'overhead-rows': { type: 'string' } } });
  const result = await runScaleBench({
    rows: values.rows === undefined ? undefined : Number(values.rows),
    cancelRows: values['cancel-rows'] === undefined ? undefined : Number(values['cancel-rows']),
    overheadRows: values['overhead-rows'] === undefined ? undefined : Number(values['overhead-rows']),
  });
  console.log(formatScaleBench(result));
}
