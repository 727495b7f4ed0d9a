/**
 * Mail chaos run (issue 19's goal): 5,000 messages to customers sent by
 * several `paylinks worker` processes while the sending workers are killed
 * with SIGKILL four times (one at random each time, started again at once).
 * The SMTP server's received messages are the ground truth. Prints:
 *
 * - customers who got their message twice (must be 0);
 * - messages lost: a customer with a link and an address who got nothing,
 *   and whose row does not say `unknown` (must be 0); a message whose run was
 *   killed after handing it over and before the server's answer is flagged
 *   `unknown`, never resent: counted apart, with how many of those the
 *   server did receive;
 * - the kills that happened (must be 4) and how long the send took.
 *
 * Everything is private: its own redis-server, the simulator and an SMTP
 * server (the `smtp-server` package) in this process, temporary files
 * removed at the end. Exit 0 when no customer got a message twice, none was
 * lost unflagged, and all four kills happened; else 1.
 *
 * Usage: `node dist/bench/mail-chaos.js [--rows 5000] [--workers 3] [--kills 4] [--mail-rate 250] [--smtp-latency-ms 2] [--deadline-ms 300000]`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SMTPServer } from 'smtp-server';
import { startRedisServer } from '../src/core/redis.js';
import { Keys } from '../src/pipeline/keys.js';
import { MailLedger } from '../src/pipeline/mail-ledger.js';
import { firstMessageCounts } from '../src/pipeline/mail-plan.js';
import { startSimulator } from '../src/paywint/simulator/index.js';

const API_KEY = '1f9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
const API_SECRET = 'mail-chaos-secret-not-real';
const BIN = fileURLToPath(new URL('../../bin/paylinks.js', import.meta.url));

function options() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '5000' },
      workers: { type: 'string', default: '3' },
      kills: { type: 'string', default: '4' },
      'mail-rate': { type: 'string', default: '250' },
      'smtp-latency-ms': { type: 'string', default: '2' },
      'deadline-ms': { type: 'string', default: '300000' },
    },
  });
  const num = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number, got ${String(values[name])}`);
    return n;
  };
  return { rows: num('rows'), workers: Math.max(1, num('workers')), kills: num('kills'), mailRate: num('mail-rate'), smtpLatencyMs: num('smtp-latency-ms'), deadlineMs: num('deadline-ms') };
}

interface Proc {
  child: ChildProcess;
  err: string;
  out: string;
  exited: Promise<unknown>;
}

function spawnCli(args: string[], env: Record<string, string>, cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { child, err: '', out: '', exited: new Promise((resolve) => child.once('close', resolve)) };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (proc.out += s));
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

const addressOf = (i: number) => `customer${i}@example.com`;

async function main(): Promise<number> {
  const o = options();
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-mail-chaos-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  const workers: Proc[] = [];
  try {
    const redisServer = await startRedisServer({ dataDir: path.join(dir, 'redis'), appendOnly: true });
    cleanups.push(() => redisServer.stop());
    const sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    cleanups.push(() => sim.close());

    const received = new Map<string, number>();
    let total = 0;
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => {
          // The message is the server's once its end came; the answer goes out a moment later (the window of `unknown`).
          for (const r of session.envelope.rcptTo) received.set(r.address, (received.get(r.address) ?? 0) + 1);
          total += 1;
          setTimeout(() => callback(), o.smtpLatencyMs);
        });
      },
    });
    smtp.on('error', () => {});
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
    const port = (smtp.server.address() as AddressInfo).port;

    const env: Record<string, string> = {
      REDIS_URL: redisServer.url,
      PAYLINKS_PREFIX: 'mailchaos',
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      PAYLINKS_RATE_LIMIT: '2000',
      PAYLINKS_CONCURRENCY: '20',
      PAYLINKS_METRICS_PORT: '0',
      PAYLINKS_LOG_LEVEL: 'info',
      PAYLINKS_LOCK_DURATION_MS: '5000',
      PAYLINKS_SMTP_URL: `smtp://127.0.0.1:${port}`,
      PAYLINKS_MAIL_FROM: 'Billing <billing@acme.example>',
      PAYLINKS_MAIL_RATE: String(o.mailRate),
      PAYLINKS_MAIL_RETRY_MS: '500',
    };
    cleanups.push(async () => {
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    });

    const file = path.join(dir, 'customers.csv');
    const lines = ['invoice_number,amount,email,name'];
    for (let i = 1; i <= o.rows; i += 1) lines.push(`MC-${String(i).padStart(6, '0')},${(i % 500) + 1}.${String(i % 100).padStart(2, '0')},${addressOf(i)},Customer ${i}`);
    await writeFile(file, `${lines.join('\n')}\n`);

    for (let i = 0; i < o.workers; i += 1) workers.push(await startWorker(env, dir));
    const submit = spawnCli(['submit', file, '--send', '--json'], { ...env, PAYLINKS_LOG_LEVEL: 'warn' }, dir);
    await submit.exited;
    const batchId = (JSON.parse(submit.out) as { batch_id: string }).batch_id;

    const keys = new Keys('mailchaos');
    const redis = new Redis(redisServer.url);
    cleanups.push(async () => redis.disconnect());
    const ended = async () => {
      const c = await firstMessageCounts(redis, keys, batchId);
      return { planned: c.planned, done: c.sent + c.bounced + c.failed + c.unknown };
    };

    // Kills spread over the send: at 15%, 35%, 55%, 75% of the messages received, or so.
    const started = Date.now();
    let kills = 0;
    let sendStartedAt = 0;
    for (;;) {
      if (Date.now() - started > o.deadlineMs) throw new Error(`not done within ${o.deadlineMs} ms: ${JSON.stringify(await ended())}, ${total} received`);
      if (sendStartedAt === 0 && total > 0) sendStartedAt = Date.now();
      const due = kills < o.kills && total >= Math.floor(o.rows * (0.15 + 0.2 * kills));
      if (due) {
        const i = Math.floor(Math.random() * workers.length);
        workers[i]!.child.kill('SIGKILL');
        await workers[i]!.exited;
        kills += 1;
        console.error(`kill ${kills}: worker ${i + 1} at ${total} messages received`);
        workers[i] = await startWorker(env, dir);
      }
      const e = await ended();
      if (kills >= o.kills && e.planned > 0 && e.done >= e.planned) break;
      await sleep(20);
    }
    const sendMs = Date.now() - sendStartedAt;

    const messages = new MailLedger(redis, keys, API_KEY);
    const invoices = Array.from({ length: o.rows }, (_, k) => `MC-${String(k + 1).padStart(6, '0')}`);
    const records = new Map<string, string>();
    for (let k = 0; k < invoices.length; k += 1000) {
      const page = await messages.read(invoices.slice(k, k + 1000));
      for (const [n, r] of page) records.set(n, r.first?.state ?? 'none');
    }
    let twice = 0;
    let lostUnflagged = 0;
    let unknown = 0;
    let unknownReceived = 0;
    for (let i = 1; i <= o.rows; i += 1) {
      const got = received.get(addressOf(i)) ?? 0;
      const state = records.get(invoices[i - 1]!);
      if (got > 1) twice += 1;
      if (state === 'unknown') {
        unknown += 1;
        if (got === 1) unknownReceived += 1;
      } else if (got === 0) lostUnflagged += 1;
    }
    const ok = twice === 0 && lostUnflagged === 0 && kills === o.kills;
    console.log(
      JSON.stringify(
        {
          rows: o.rows,
          workers: o.workers,
          mail_rate: o.mailRate,
          kills,
          received: total,
          customers_twice: twice,
          lost_unflagged: lostUnflagged,
          flagged_unknown: unknown,
          flagged_unknown_received: unknownReceived,
          send_seconds: Math.round(sendMs / 100) / 10,
          ideal_seconds: Math.round((o.rows / o.mailRate) * 10) / 10,
          ok,
        },
        null,
        1,
      ),
    );
    return ok ? 0 : 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
