/**
 * Chaos run: a batch worked by several `paylinks worker` processes while one
 * of them, chosen at random, is killed with SIGKILL every few seconds and
 * started again, and Paywint sometimes creates a link without answering
 * (hangs, cut connections). Prints what a user would check:
 *
 * - rows lost: input rows with no output row, or with no final result;
 * - invoices with more than one link at the simulator, and how many of those
 *   the output does NOT flag (must be 0: never two links silently);
 * - ambiguous rows flagged (`POSSIBLE_DUPLICATE_LINK`, or failed saying a
 *   link may exist);
 * - rows that ended neither created, exists nor flagged (a `failed` row with
 *   no link and no flag is a row the run gave up on without saying why);
 * - the faults that fired: kills, hung requests, cut connections (a run where
 *   one of them never happened proved nothing about it);
 * - the most links any invoice got at the simulator: more than 2
 *   (PAYLINKS_UNKNOWN_OUTCOME_RETRIES + 1) fails the run;
 * - jobs left in BullMQ, claims left with a request in flight.
 *
 * Everything is private: its own redis-server on a free port, the simulator in
 * this process, temporary files removed at the end. Exit code 0 when nothing
 * was lost, nothing duplicated silently, no invoice got more than 2 links,
 * every row ended created, exists or flagged, and every fault fired; else 1. A batch that does not finish
 * within `--deadline-ms` of its submission fails the run (a lost row must
 * fail it, not leave `collect --wait` polling forever).
 *
 * Usage: `node dist/bench/chaos.js [--rows 2000] [--workers 3] [--kill-every-ms 3000]
 *   [--chaos-ms 30000] [--rate-limit 100] [--hang-rate 0.01] [--drop-rate 0.01] [--timeout-ms 1000] [--seed 1] [--deadline-ms 300000]`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keys, QUEUE_NAME } from '../src/pipeline/keys.js';
import { BatchStore } from '../src/pipeline/batch-store.js';
import { startRedisServer } from '../src/core/redis.js';
import { startSimulator } from '../src/paywint/simulator/index.js';
import { seededRandom } from '../src/core/random.js';

const API_KEY = '0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
const API_SECRET = 'chaos-secret-not-real';
const BIN = fileURLToPath(new URL('../../bin/paylinks.js', import.meta.url));

interface Options {
  rows: number;
  workers: number;
  killEveryMs: number;
  /** Kills stop after this long, or once every invoice has a link, whichever comes first. */
  chaosMs: number;
  rateLimit: number;
  hangRate: number;
  dropRate: number;
  timeoutMs: number;
  seed: number;
  /** The batch must be finished this long after its submission, or the run fails. */
  deadlineMs: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '2000' },
      workers: { type: 'string', default: '3' },
      'kill-every-ms': { type: 'string', default: '3000' },
      'chaos-ms': { type: 'string', default: '30000' },
      'rate-limit': { type: 'string', default: '100' },
      'hang-rate': { type: 'string', default: '0.01' },
      'drop-rate': { type: 'string', default: '0.01' },
      'timeout-ms': { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      'deadline-ms': { type: 'string', default: '300000' },
    },
  });
  const num = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number, got ${String(values[name])}`);
    return n;
  };
  return {
    rows: num('rows'),
    workers: Math.max(1, num('workers')),
    killEveryMs: num('kill-every-ms'),
    chaosMs: num('chaos-ms'),
    rateLimit: num('rate-limit'),
    hangRate: num('hang-rate'),
    dropRate: num('drop-rate'),
    timeoutMs: num('timeout-ms'),
    seed: num('seed'),
    deadlineMs: num('deadline-ms'),
  };
}


interface Proc {
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnCli(args: string[], env: Record<string, string>, cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: Proc = {
    child,
    out: '',
    err: '',
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (proc.out += s));
  // Only the head and the tail of a worker's log matter here; keep memory bounded.
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (proc.err = (proc.err + s).slice(-20_000)));
  return proc;
}

async function startWorker(env: Record<string, string>, cwd: string): Promise<Proc> {
  const proc = spawnCli(['worker'], env, cwd);
  const deadline = Date.now() + 30_000;
  while (!proc.err.includes('"msg":"worker ready"')) {
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start:\n${proc.err.slice(-2000)}`);
    await sleep(20);
  }
  return proc;
}

/** Runs a command to its end, or kills it after `timeoutMs` (`timedOut` then says so). */
async function runToEnd(args: string[], env: Record<string, string>, cwd: string, timeoutMs = 120_000) {
  const proc = spawnCli(args, env, cwd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.child.kill('SIGKILL');
  }, Math.max(1, timeoutMs));
  const exit = await proc.exited;
  clearTimeout(timer);
  return { ...exit, timedOut, stdout: proc.out, stderr: proc.err };
}

type Row = Record<string, string>;

function isFlagged(row: Row): boolean {
  return (
    row.error_code === 'POSSIBLE_DUPLICATE_LINK' ||
    row.error_code === 'UNKNOWN_OUTCOME' ||
    (row.status === 'failed' && /may (hold (another|a) link|have been created)/.test(row.error_message ?? ''))
  );
}

/** Links an invoice may get at Paywint without a person's say-so: PAYLINKS_UNKNOWN_OUTCOME_RETRIES (1) + 1. */
const MAX_LINKS_PER_INVOICE = 2;

async function main(): Promise<number> {
  const o = options();
  const random = seededRandom(o.seed);
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-chaos-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  const started = Date.now();
  const workers: Proc[] = [];
  try {
    const redis = await startRedisServer({ dataDir: path.join(dir, 'redis'), appendOnly: true });
    cleanups.push(() => redis.stop());
    const sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 20, jitterMs: 30, hangRate: o.hangRate, dropRate: o.dropRate, seed: o.seed });
    cleanups.push(() => sim.close());
    const prefix = 'chaos';
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      PAYLINKS_PREFIX: prefix,
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      PAYLINKS_RATE_LIMIT: String(o.rateLimit),
      PAYLINKS_CONCURRENCY: '10',
      PAYLINKS_TIMEOUT_MS: String(o.timeoutMs),
      PAYLINKS_METRICS_PORT: '0',
      PAYLINKS_LOG_LEVEL: 'warn',
      PAYLINKS_LOCK_DURATION_MS: '5000',
    };
    // warn hides "worker ready": the workers log at info, the rest at warn.
    const workerEnv = { ...env, PAYLINKS_LOG_LEVEL: 'info' };
    cleanups.push(async () => {
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    });

    const file = path.join(dir, 'chaos.csv');
    const lines = ['invoice_number,amount,description'];
    for (let i = 1; i <= o.rows; i += 1) lines.push(`CH-${String(i).padStart(7, '0')},${(i % 500) + 1}.${String(i % 100).padStart(2, '0')},Chaos ${i}`);
    await writeFile(file, `${lines.join('\n')}\n`);

    for (let i = 0; i < o.workers; i += 1) workers.push(await startWorker(workerEnv, dir));
    const submitted = await runToEnd(['submit', file, '--json'], env, dir);
    if (submitted.code !== 0) throw new Error(`submit failed (${submitted.code}): ${submitted.stderr}`);
    const batchId = (JSON.parse(submitted.stdout) as { batch_id: string }).batch_id;
    const submittedAt = Date.now();

    // Chaos: kill -9 a random worker every few seconds (±50 %), start a new one at once.
    let kills = 0;
    const chaosEnd = submittedAt + o.chaosMs;
    while (Date.now() < chaosEnd && new Set(sim.ledger().map((e) => e.invoiceNumber)).size < o.rows) {
      await sleep(Math.round(o.killEveryMs * (0.5 + random())));
      if (new Set(sim.ledger().map((e) => e.invoiceNumber)).size >= o.rows) break;
      const slot = Math.floor(random() * workers.length);
      const victim = workers[slot]!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills += 1;
      workers[slot] = await startWorker(workerEnv, dir);
    }
    const chaosMs = Date.now() - submittedAt;

    const output = path.join(dir, 'chaos.out.csv');
    const collected = await runToEnd(['collect', batchId, '--wait', '-o', output], env, dir, submittedAt + o.deadlineMs - Date.now());
    const doneMs = Date.now() - submittedAt;
    // Past the deadline: what the batch holds now, its unfinished rows marked as such.
    const late = collected.timedOut ? await runToEnd(['collect', batchId, '-o', output], env, dir) : undefined;
    const text = await readFile(output, 'utf8').catch(() => '');
    const records = parse(text, { bom: true }) as string[][];
    const [headers = [], ...body] = records;
    const rows: Row[] = body.map((cells) => Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? ''])));

    const links = new Map<string, number>();
    for (const e of sim.ledger()) links.set(e.invoiceNumber ?? '', (links.get(e.invoiceNumber ?? '') ?? 0) + 1);
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status ?? ''] = (byStatus[r.status ?? ''] ?? 0) + 1;
    const unfinished = rows.filter((r) => r.error_code === 'NOT_FINISHED').length;
    const lost = o.rows - rows.length + unfinished;
    const duplicated = rows.filter((r) => (links.get(r.invoice_number ?? '') ?? 0) > 1);
    const silent = duplicated.filter((r) => !isFlagged(r));
    const linkedButNotSaid = rows.filter((r) => r.status !== 'created' && r.status !== 'exists' && (links.get(r.invoice_number ?? '') ?? 0) > 0 && !isFlagged(r));
    const createdNotAtSim = rows.filter((r) => r.status === 'created' && (links.get(r.invoice_number ?? '') ?? 0) === 0);
    const flagged = rows.filter(isFlagged).length;
    // Every row ends with its link (created, exists) or says it may have one (flagged): nothing else is an outcome here.
    const unsettled = rows.filter((r) => r.status !== 'created' && r.status !== 'exists' && !isFlagged(r));
    const maxLinksPerInvoice = Math.max(0, ...links.values());
    const overLinked = [...links.entries()].filter(([, n]) => n > MAX_LINKS_PER_INVOICE);
    const byCode: Record<string, number> = {};
    for (const r of rows) if (r.error_code) byCode[r.error_code] = (byCode[r.error_code] ?? 0) + 1;

    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: new Keys(prefix).bullPrefix });
    const counts = await queue.getJobCounts('active', 'wait', 'delayed', 'failed');
    const claims = await connection.hgetall(new Keys(prefix).claims(API_KEY));
    const claimsInFlight = Object.values(claims).filter((raw) => (JSON.parse(raw) as { inFlight: number }).inFlight === 1).length;
    const counted = await new BatchStore(connection, new Keys(prefix)).get(batchId);
    const failedFlagged = rows.filter((r) => r.status === 'failed' && isFlagged(r)).length;
    await queue.close();
    connection.disconnect();

    const stats = sim.stats();
    // The faults this run exists for must have happened.
    const faults = { kills, hung: stats.hung, dropped: stats.dropped };
    const unfired = Object.entries(faults)
      .filter(([, count]) => count === 0)
      .map(([name]) => name);
    const report = [
      'paylinks chaos report',
      `  setup: ${o.rows} rows, ${o.workers} workers, rate limit ${o.rateLimit}/s, kill -9 every ~${o.killEveryMs} ms, hang ${o.hangRate}, drop ${o.dropRate}, timeout ${o.timeoutMs} ms, seed ${o.seed}`,
      `  kills (kill -9 + restart): ${kills} over ${(chaosMs / 1000).toFixed(1)} s`,
      `  batch done after: ${(doneMs / 1000).toFixed(1)} s; collect exit ${collected.code}${collected.timedOut ? ` (NOT FINISHED within the deadline of ${o.deadlineMs / 1000} s; collect without --wait: exit ${late?.code})` : ''}`,
      `  rows in: ${o.rows}; rows out: ${rows.length}; by status: ${JSON.stringify(byStatus)}`,
      `  rows lost (no output row or no result): ${lost}`,
      `  requests: ${stats.requests}; links at the simulator: ${stats.created}; unanswered on purpose: ${stats.hung} hung + ${stats.dropped} dropped`,
      `  invoices created more than once at the simulator: ${duplicated.length} (not flagged in the output: ${silent.length})`,
      `  ambiguous rows flagged: ${flagged}`,
      `  rows neither created, exists nor flagged: ${unsettled.length}`,
      `  faults fired: ${kills} kills, ${stats.hung} hung, ${stats.dropped} connections reset${unfired.length > 0 ? ` (NEVER: ${unfired.join(', ')})` : ''}`,
      `  most links for one invoice at the simulator: ${maxLinksPerInvoice} (at most ${MAX_LINKS_PER_INVOICE} allowed; invoices over: ${overLinked.length})`,
      `  failed rows that may have a link: ${failedFlagged} in the output (UNKNOWN_OUTCOME ${byCode.UNKNOWN_OUTCOME ?? 0}); the batch counts ${counted?.maybeLinked ?? '?'}`,
      `  rows with a link at the simulator but not created/exists and not flagged: ${linkedButNotSaid.length}; created rows with no link at the simulator: ${createdNotAtSim.length}`,
      `  left behind: jobs ${JSON.stringify(counts)}; claims with a request in flight: ${claimsInFlight}`,
      `  wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(report.join('\n'));
    for (const r of silent.slice(0, 5)) console.log(`  SILENT DUPLICATE: ${JSON.stringify(r)}`);
    for (const r of unsettled.slice(0, 5)) console.log(`  UNSETTLED ROW: ${JSON.stringify(r)}`);
    for (const [invoice, n] of overLinked.slice(0, 5)) console.log(`  OVER ${MAX_LINKS_PER_INVOICE} LINKS: ${invoice} has ${n} links at the simulator`);
    const ok =
      !collected.timedOut &&
      rows.length === o.rows &&
      lost === 0 &&
      silent.length === 0 &&
      unsettled.length === 0 &&
      unfired.length === 0 &&
      linkedButNotSaid.length === 0 &&
      overLinked.length === 0 &&
      counted?.maybeLinked === failedFlagged &&
      createdNotAtSim.length === 0 &&
      counts.active === 0 &&
      claimsInFlight === 0;
    console.log(ok ? 'OK: nothing lost, no silent duplicate, every row settled, every fault fired' : 'PROBLEMS: see above');
    return ok ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
