/**
 * The mail benchmark (issue 19's goal): 100,000 messages to a local SMTP
 * server at `PAYLINKS_MAIL_RATE=1000` take count ÷ rate (100 s) within 5%,
 * and every process stays at or under 250 MB.
 *
 * As a user does it: `paylinks run` of a file of invoices with an e-mail
 * column (the links, from the simulator in its own process, a private Redis
 * with AOF on), then `paylinks worker` process(es) with the mail settings and
 * `paylinks send BATCH`. The SMTP server (smtp-sink.ts) is its own process
 * and keeps the truth: messages received, recipients twice, messages without
 * a link, first and last arrival. Peak RSS is VmHWM from /proc.
 *
 * Usage: `node dist/bench/mail-bench.js [--messages 100000] [--rate 1000] [--workers 1]`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer } from '../src/core/redis.js';
import { BatchStore } from '../src/pipeline/batch-store.js';
import { Keys } from '../src/pipeline/keys.js';
import { API_KEY, API_SECRET, BIN, startSimProcess } from './pipeline-bench.js';
import type { SinkStats } from './smtp-sink.js';

const MB = 1024 * 1024;
const SINK = fileURLToPath(new URL('./smtp-sink.js', import.meta.url));

export const MAIL_GOALS = { deviationPercent: 5, peakRssBytes: 250 * MB } as const;

export interface MailBenchResult {
  messages: number;
  ratePerSecond: number;
  workers: number;
  /** count ÷ rate. */
  expectedSeconds: number;
  /** From the start of `paylinks send` (a new process: Node.js, Redis, the plan of the batch) to the last message received. */
  seconds: number;
  /** From the first message received to the last: the sending itself, what the rate governs. */
  spreadSeconds: number;
  /** The sending's time against count ÷ rate: (spread + 1/rate) ÷ (count ÷ rate) − 1, in percent. */
  deviationPercent: number;
  received: number;
  duplicates: number;
  withoutLink: number;
  /** Peak RSS by process. */
  peakRss: Record<string, number>;
  /** The load average (1 min) before the send, and after it. */
  loadBefore: number;
  loadAfter: number;
  /** `paylinks run` of the file: seconds (the links the messages carry). */
  linkSeconds: number;
  /** CPU time per message received during the send, µs, by process (from /proc: user + system). */
  cpuMicrosPerMessage: Record<string, number>;
}

/** A process's CPU time so far (user + system), seconds; 0 once it is gone. */
async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, what /proc counts CPU time in. */
const CLOCK_TICKS = 100;

async function peakRssOf(pid: number): Promise<number> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Watched {
  proc: ChildProcess;
  peak(): number;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** CPU time (user + system) at the last poll, seconds. */
  cpuSeconds(): number;
}

/** Spawns `node ARGS`, keeping its peak RSS (polled every 100 ms: VmHWM is the peak since start, so polling misses nothing but the last 100 ms of a short process, read at exit). */
function watch(args: string[], env: Record<string, string>, stdio: 'ipc' | 'plain' = 'plain'): Watched {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: stdio === 'ipc' ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  let peak = 0;
  let cpu = 0;
  let running = true;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => ((running = false), resolve(code))));
  void (async () => {
    while (running) {
      peak = Math.max(peak, await peakRssOf(proc.pid!));
      cpu = Math.max(cpu, await cpuSecondsOf(proc.pid!));
      await sleep(100);
    }
  })();
  return { proc, peak: () => peak, cpuSeconds: () => cpu, exited, stdout: () => out, stderr: () => err };
}

async function finish(w: Watched, what: string): Promise<void> {
  const code = await w.exited;
  if (code !== 0 && code !== 1) throw new Error(`${what} exited ${code}:\n${w.stderr()}`);
}

async function writeCustomers(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('invoice_number,amount,description,email,name,due_date\n');
  for (let i = 0; i < rows; i += 1) {
    const line = `MB${i},${(i % 9000) + 1}.${String(i % 100).padStart(2, '0')},Bench invoice ${i},customer${i}@example.com,Customer ${i},2026-12-31\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function sinkStats(sink: ChildProcess): Promise<SinkStats> {
  const answer = once(sink, 'message') as Promise<[SinkStats]>;
  sink.send('stats');
  return (await answer)[0];
}

export async function runMailBench(options: { messages?: number; rate?: number; workers?: number } = {}): Promise<MailBenchResult> {
  const messages = options.messages ?? 100_000;
  const rate = options.rate ?? 1000;
  const workers = options.workers ?? 1;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-mail-bench-'));
  const sim = await startSimProcess();
  const redis = await startRedisServer({ dataDir: path.join(dir, 'redis'), appendOnly: true });
  const sink = watch([SINK], {}, 'ipc');
  const started: Watched[] = [];
  try {
    const [line] = (await once(sink.proc.stdout!, 'data')) as [Buffer];
    const port = (JSON.parse(line.toString()) as { port: number }).port;
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      PAYLINKS_PREFIX: 'mailbench',
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      PAYLINKS_RATE_LIMIT: '10000',
      PAYLINKS_CONCURRENCY: '50',
      PAYLINKS_LOG_LEVEL: 'warn',
      PAYLINKS_METRICS_PORT: '0',
      PAYLINKS_SMTP_URL: `smtp://127.0.0.1:${port}`,
      PAYLINKS_MAIL_FROM: 'Bench Billing <billing@bench.example>',
      PAYLINKS_MAIL_RATE: String(rate),
    };
    const peakRss: Record<string, number> = {};

    // 1. The links: `paylinks run` of the file.
    const file = path.join(dir, 'customers.csv');
    await writeCustomers(file, messages);
    const linkStart = performance.now();
    const run = watch([BIN, 'run', file, '-o', path.join(dir, 'customers.out.csv')], env);
    await finish(run, 'paylinks run');
    const linkSeconds = (performance.now() - linkStart) / 1000;
    peakRss.run = run.peak();
    const admin = new Redis(redis.url);
    const [batchId] = await new BatchStore(admin, new Keys(env.PAYLINKS_PREFIX!)).recent(1).finally(() => admin.quit());
    if (batchId === undefined) throw new Error(`paylinks run made no batch:\n${run.stderr()}`);

    // 2. The mail workers, then the send.
    for (let i = 0; i < workers; i += 1) {
      const w = watch([BIN, 'worker'], env);
      started.push(w);
    }
    await sleep(3000); // the workers connect and take their queues
    const loadBefore = loadavg()[0]!;
    const cpuPids: Record<string, number> = { 'SMTP server': sink.proc.pid!, Redis: redis.process.pid!, simulator: sim.proc.pid! };
    started.forEach((w, i) => (cpuPids[`worker ${i + 1}`] = w.proc.pid!));
    const cpuBefore = Object.fromEntries(await Promise.all(Object.entries(cpuPids).map(async ([k, pid]) => [k, await cpuSecondsOf(pid)] as const)));
    const sendStart = Date.now();
    const send = watch([BIN, 'send', batchId], env);
    await finish(send, 'paylinks send');
    peakRss.send = send.peak();

    // 3. Until every message arrived (or none arrives for a minute).
    let stats = await sinkStats(sink.proc);
    let lastCount = -1;
    let lastChange = Date.now();
    while (stats.messages < messages) {
      await sleep(500);
      stats = await sinkStats(sink.proc);
      if (stats.messages !== lastCount) {
        lastCount = stats.messages;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > 60_000) break;
    }
    await sleep(2000); // a message sent twice would arrive by now
    stats = await sinkStats(sink.proc);
    const cpuMicrosPerMessage: Record<string, number> = {};
    for (const [k, pid] of Object.entries(cpuPids)) cpuMicrosPerMessage[k] = (((await cpuSecondsOf(pid)) - cpuBefore[k]!) * 1e6) / Math.max(stats.messages, 1);
    cpuMicrosPerMessage['send command'] = (send.cpuSeconds() * 1e6) / Math.max(stats.messages, 1);
    const loadAfter = loadavg()[0]!;
    started.forEach((w, i) => (peakRss[`worker ${i + 1}`] = w.peak()));
    peakRss['SMTP server'] = Math.max(sink.peak(), stats.peakRssBytes);
    const seconds = ((stats.lastAtMs ?? Date.now()) - sendStart) / 1000;
    const expectedSeconds = messages / rate;
    const spreadSeconds = stats.firstAtMs === null || stats.lastAtMs === null ? 0 : (stats.lastAtMs - stats.firstAtMs) / 1000;
    return {
      messages,
      ratePerSecond: rate,
      workers,
      expectedSeconds,
      seconds,
      spreadSeconds,
      // count messages take count − 1 intervals between the first and the last, plus one for the first.
      deviationPercent: ((spreadSeconds + 1 / rate - expectedSeconds) / expectedSeconds) * 100,
      received: stats.messages,
      duplicates: stats.duplicates,
      withoutLink: stats.withoutLink,
      peakRss,
      loadBefore,
      loadAfter,
      linkSeconds,
      cpuMicrosPerMessage,
    };
  } finally {
    for (const w of started) w.proc.kill('SIGTERM');
    await Promise.all(started.map((w) => Promise.race([w.exited, sleep(30_000)])));
    sink.proc.kill('SIGTERM');
    await sim.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;

export function formatMailBench(r: MailBenchResult): string {
  const timed = Math.abs(r.deviationPercent) <= MAIL_GOALS.deviationPercent && r.received === r.messages;
  const rssOk = Object.values(r.peakRss).every((b) => b <= MAIL_GOALS.peakRssBytes);
  const exact = r.received === r.messages && r.duplicates === 0 && r.withoutLink === 0;
  const cpuTotal = Object.values(r.cpuMicrosPerMessage).reduce((a, b) => a + b, 0);
  return [
    '| figure | measured | goal |',
    '| --- | --- | --- |',
    `| ${r.messages.toLocaleString('en-US')} messages at PAYLINKS_MAIL_RATE=${r.ratePerSecond} (${r.workers} worker${r.workers === 1 ? '' : 's'}): first received to last | **${r.spreadSeconds.toFixed(1)} s** (${r.deviationPercent >= 0 ? '+' : ''}${r.deviationPercent.toFixed(1)}% of ${r.expectedSeconds} s, ${Math.round(r.received / Math.max(r.spreadSeconds, 0.001))} messages/s); from the start of \`paylinks send\` ${r.seconds.toFixed(1)} s | within ${MAIL_GOALS.deviationPercent}%: **${timed ? 'met' : 'not met'}** |`,
    `| messages received, to a recipient twice, without a link | ${r.received.toLocaleString('en-US')}, ${r.duplicates}, ${r.withoutLink} | all, 0, 0: **${exact ? 'met' : 'not met'}** |`,
    `| peak RSS of every process | ${Object.entries(r.peakRss).map(([k, v]) => `${k} ${mb(v)}`).join(', ')} | ≤ 250 MB: **${rssOk ? 'met' : 'not met'}** |`,
    `| CPU per message during the send (user + system, /proc) | ${Object.entries(r.cpuMicrosPerMessage).map(([k, v]) => `${k} ${Math.round(v)} µs`).join(', ')}; total ${Math.round(cpuTotal)} µs: two free cores send at most ${Math.round(2e6 / Math.max(cpuTotal, 1)).toLocaleString('en-US')}/s | |`,
    `| load average (1 min), before and after the send | ${r.loadBefore.toFixed(1)}, ${r.loadAfter.toFixed(1)} | (2 cores) |`,
    `| the links first (\`paylinks run\`) | ${r.linkSeconds.toFixed(1)} s | |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { messages: { type: 'string' }, rate: { type: 'string' }, workers: { type: 'string' } } });
  const result = await runMailBench({
    messages: values.messages === undefined ? undefined : Number(values.messages),
    rate: values.rate === undefined ? undefined : Number(values.rate),
    workers: values.workers === undefined ? undefined : Number(values.workers),
  });
  console.log(formatMailBench(result));
}
