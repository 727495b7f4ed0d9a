/**
 * Webhook intake: `paylinks serve --no-worker` (its own process, a private
 * redis-server with AOF on) receives `events` Paywint events as fast as 32
 * connections send them; an event counts once answered 202, its
 * `confirm-payment` job queued (checked after: one job per event). Goal:
 * ≥ 2,000 events/s on this machine. Then `paylinks worker` (its own process)
 * confirms them all at the rate limit `rate` (each a GET at the simulator, in
 * this process): the goal is every one confirmed within events ÷ rate.
 * Reported with each process's peak RSS (VmHWM) and the load average.
 *
 *     npm run build && node dist/bench/webhook-intake-bench.js [events] [rate]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Pool } from 'undici';
import { connect, startRedisServer } from '../src/core/redis.js';
import { Keys } from '../src/pipeline/keys.js';
import { PAYMENT_EVENT_QUEUE } from '../src/pipeline/payment-event-job.js';
import { SIMULATOR_DEMO_API_SECRET, startSimulator } from '../src/paywint/simulator/index.js';

const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), here.endsWith('.ts') ? '..' : '../..');
const SECRET = 'bench-webhook-secret-0123456789-abcdefgh';
const TOKEN = 'bench-token-0123456789abcdefghijklmnopqrstuv';

export interface IntakeBenchResult {
  events: number;
  accepted: number;
  seconds: number;
  queued: number;
  serveRssBytes: number;
  rate: number;
  confirmSeconds: number;
  workerRssBytes: number;
  loadAverage: string;
}

async function vmHwm(pid: number): Promise<number> {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(repoRoot, 'bin', 'paylinks.js'), ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function waitFor(child: ChildProcess, pattern: RegExp): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const on = (s: Buffer) => {
      seen += s.toString('utf8');
      const m = pattern.exec(seen);
      if (m) resolve(m[1] ?? m[0]);
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${pattern}: ${seen.slice(-500)}`)));
  });
}

export async function runIntakeBench(options: { events?: number; rate?: number } = {}): Promise<IntakeBenchResult> {
  const events = options.events ?? 20_000;
  const rate = options.rate ?? 1000;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-intake-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: true });
  const redis = connect(server.url);
  const sim = await startSimulator({});
  const children: ChildProcess[] = [];
  try {
    const env = {
      REDIS_URL: server.url,
      PAYLINKS_PREFIX: 'bench',
      PAYWINT_API_KEY: sim.apiKey,
      PAYWINT_API_SECRET: SIMULATOR_DEMO_API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      PAYLINKS_API_TOKENS: TOKEN,
      PAYLINKS_WEBHOOK_SECRET: SECRET,
      PAYLINKS_WEBHOOK_RATE_PER_MINUTE: '1000000',
      PAYLINKS_RATE_LIMIT: String(rate),
      PAYLINKS_CONCURRENCY: '32',
      PAYLINKS_METRICS_PORT: '0',
      PAYLINKS_LOG_LEVEL: 'warn',
    };
    const serve = spawnCli(['serve', '--port', '0', '--no-worker'], env);
    children.push(serve);
    const url = await waitFor(serve, /serving on (http:\/\/\S+)/);
    // The payments the events name: links at the simulator (a GET finds them), unknown to paylinks' ledger.
    const ids = Array.from({ length: events }, (_, i) => sim.createStrayLink({ amountCents: 1000 + (i % 5000) }).paymentId);
    const pool = new Pool(url, { connections: 32, pipelining: 1 });
    const hookPath = `/webhooks/paywint/${SECRET}`;
    let next = 0;
    let accepted = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < events) {
          const i = next++;
          const body = JSON.stringify({ event: 'payment.opened', id: randomUUID(), data: { payment_id: ids[i], status: 'opened', amount: 10 }, eventGeneratedTime: Date.now() / 1000 });
          const res = await pool.request({ method: 'POST', path: hookPath, headers: { 'content-type': 'application/json' }, body });
          await res.body.dump();
          if (res.statusCode === 202) accepted += 1;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await pool.close();
    const serveRssBytes = await vmHwm(serve.pid!);
    const queue = new Queue(PAYMENT_EVENT_QUEUE, { connection: redis, prefix: new Keys('bench').bullPrefix });
    const queued = (await queue.getJobCounts('wait')).wait ?? 0;

    // Confirmation: a worker at the rate limit.
    const confirmStart = Date.now();
    const worker = spawnCli(['worker'], env);
    children.push(worker);
    let workerRssBytes = 0;
    for (;;) {
      const counts = await queue.getJobCounts('completed', 'failed');
      workerRssBytes = Math.max(workerRssBytes, await vmHwm(worker.pid!));
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= queued) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const confirmSeconds = (Date.now() - confirmStart) / 1000;
    await queue.close();
    return { events, accepted, seconds, queued, serveRssBytes, rate, confirmSeconds, workerRssBytes, loadAverage: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ') };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await sim.close();
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatIntakeBench(r: IntakeBenchResult): string {
  return [
    `events sent                      ${r.events.toLocaleString('en-US')} (32 connections)`,
    `accepted (202), jobs queued      ${r.accepted.toLocaleString('en-US')}, ${r.queued.toLocaleString('en-US')} in ${r.seconds.toFixed(1)} s: ${Math.round(r.accepted / r.seconds).toLocaleString('en-US')} events/s (goal ≥ 2,000)`,
    `serve peak RSS                   ${(r.serveRssBytes / 1e6).toFixed(0)} MB`,
    `all confirmed by a worker        ${r.confirmSeconds.toFixed(1)} s at ${r.rate}/s (events ÷ rate: ${(r.queued / r.rate).toFixed(1)} s; includes the worker's start)`,
    `worker peak RSS                  ${(r.workerRssBytes / 1e6).toFixed(0)} MB`,
    `load average at the end          ${r.loadAverage}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [events, rate] = process.argv.slice(2).map(Number);
  console.log(formatIntakeBench(await runIntakeBench({ events: events || undefined, rate: rate || undefined })));
}
