/**
 * The payment sweep at scale: a ledger of `links` links (1,000,000 by
 * default) in a private redis-server, `open` of them open (made 2 to 60 days
 * ago, in no order) and known to the simulator, the rest recorded paid; then
 * `paylinks payments sync --json` as a user runs it (its own process) at
 * `rate` requests per second. The goal: the pass takes (requests needed ÷
 * rate limit) within 1%; the process stays under 250 MB.
 *
 * Reported: the requests (one received-list page, one GET per open link),
 * the pass's own time and the ideal (requests − the limiter's burst) ÷ rate,
 * the rounds of the oldest-first selection and the time of one full scan of
 * the ledger, and the sweep process's peak RSS (VmHWM, read while it runs).
 *
 *     npm run build && node dist/bench/payment-sweep-bench.js [links] [open] [rate]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, startRedisServer } from '../src/core/redis.js';
import { Keys } from '../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../src/pipeline/ledger.js';
import { encodeRecord, slotOf } from '../src/pipeline/payment-status/encoding.js';
import { PaymentStatusStore } from '../src/pipeline/payment-status/store.js';
import { oldestOpenLinks } from '../src/pipeline/payment-sweep/open-links.js';
import { SIMULATOR_DEMO_API_SECRET, startSimulator } from '../src/paywint/simulator/index.js';
import { randomUUID } from 'node:crypto';

const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), here.endsWith('.ts') ? '..' : '../..');
const DAY_MS = 86_400_000;

export interface SweepBenchResult {
  links: number;
  open: number;
  rate: number;
  requests: number;
  seconds: number;
  idealSeconds: number;
  rounds: number;
  read: number;
  scanSeconds: number;
  /** The pass's time waiting for a round's selection (no read to make). */
  selectionWaitSeconds: number;
  peakRssBytes: number;
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

export async function runSweepBench(options: { links?: number; open?: number; rate?: number } = {}): Promise<SweepBenchResult> {
  const links = options.links ?? 1_000_000;
  const open = Math.min(options.open ?? 100_000, links);
  const rate = options.rate ?? 1000;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-sweep-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  const redis = connect(server.url);
  const sim = await startSimulator({});
  try {
    const keys = new Keys('bench');
    const account = sim.apiKey;
    const store = new PaymentStatusStore(redis, keys, account);
    const now = Date.now();
    const openEvery = links / open;
    let opened = 0;
    for (let from = 0; from < links; from += 10_000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(links, from + 10_000); i += 1) {
        const invoiceNumber = `INV-${String(i).padStart(7, '0')}`;
        const amountCents = 10_000 + (i % 90_000);
        // Made 2 to 60 days ago, in no order (a hash of i).
        const createdMs = now - 2 * DAY_MS - ((i * 2_654_435_761) % (58 * DAY_MS));
        const isOpen = Math.floor((opened + 1) * openEvery) - 1 === i && opened < open;
        const paymentId = isOpen ? sim.createStrayLink({ amountCents, invoiceNumber: invoiceNumber.slice(0, 20), description: `Invoice ${i}` }).paymentId : randomUUID();
        if (isOpen) opened += 1;
        pipeline.hset(keys.ledger(account), invoiceNumber, encodeLedgerEntry({ paymentId, paymentLink: `https://pay.sandbox.paywint.com/l/${paymentId}`, amountCents, description: `Invoice ${i}`, batchId: '20261001T090000-b3c4d5', row: i, createdAt: new Date(createdMs).toISOString() }));
        const slot = slotOf(paymentId);
        const status = isOpen
          ? null
          : { state: 'paid' as const, paymentId, amountPaidCents: amountCents, paidAt: new Date(createdMs + DAY_MS).toISOString(), failureReason: null, confirmedAt: new Date(createdMs + DAY_MS + 40_000).toISOString(), confirmedBy: 'webhook' as const };
        pipeline.hset(store.bucketKey(slot), slot.field, encodeRecord(invoiceNumber, status, paymentId, amountCents));
      }
      await pipeline.exec();
    }
    await redis.hset(store.metaKey, 'indexed', links);

    // One full scan of the selection, alone (the cost each round pays).
    const t0 = process.hrtime.bigint();
    await oldestOpenLinks(store, { cutoffMs: now - 3_600_000, limit: 50_000 });
    const scanSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'paylinks.js'), 'payments', 'sync', '--json'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        REDIS_URL: server.url,
        PAYLINKS_PREFIX: 'bench',
        PAYWINT_API_KEY: account,
        PAYWINT_API_SECRET: SIMULATOR_DEMO_API_SECRET,
        PAYWINT_BASE_URL: sim.url,
        PAYLINKS_RATE_LIMIT: String(rate),
        PAYLINKS_CONCURRENCY: '32',
        PAYLINKS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    let peak = 0;
    const poll = setInterval(() => void vmHwm(child.pid!).then((b) => (peak = Math.max(peak, b))), 200);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(poll);
    if (code !== 0) throw new Error(`payments sync exited ${code}: ${out}`);
    const summary = JSON.parse(out) as { seconds: number; requests: number; open: { rounds: number; read: number; selectionWaitSeconds: number } };
    const burst = Math.max(1, Math.floor(rate / 20));
    return {
      links,
      open,
      rate,
      requests: summary.requests,
      seconds: summary.seconds,
      idealSeconds: Math.max(0, summary.requests - burst) / rate,
      rounds: summary.open.rounds,
      read: summary.open.read,
      scanSeconds,
      selectionWaitSeconds: summary.open.selectionWaitSeconds,
      peakRssBytes: peak,
      loadAverage: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' '),
    };
  } finally {
    await sim.close();
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatSweepBench(r: SweepBenchResult): string {
  const over = ((r.seconds / r.idealSeconds - 1) * 100).toFixed(2);
  return [
    `links in the ledger                   ${r.links.toLocaleString('en-US')} (${r.open.toLocaleString('en-US')} open, the rest paid)`,
    `requests                              ${r.requests.toLocaleString('en-US')} (${r.read.toLocaleString('en-US')} GETs, ${r.rounds} round(s) of at most 50,000)`,
    `pass                                  ${r.seconds.toFixed(1)} s at ${r.rate}/s; ideal (requests − burst) ÷ rate ${r.idealSeconds.toFixed(1)} s: ${over} % over`,
    `one selection scan of the ledger      ${r.scanSeconds.toFixed(1)} s here; the pass waited ${r.selectionWaitSeconds.toFixed(1)} s for its selection`,
    `the reads alone                       ${(r.seconds - r.selectionWaitSeconds).toFixed(1)} s: ${(((r.seconds - r.selectionWaitSeconds) / r.idealSeconds - 1) * 100).toFixed(2)} % over the ideal`,
    `sweep process peak RSS                ${(r.peakRssBytes / 1e6).toFixed(0)} MB`,
    `load average at the end               ${r.loadAverage}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [links, open, rate] = process.argv.slice(2).map(Number);
  console.log(formatSweepBench(await runSweepBench({ links: links || undefined, open: open || undefined, rate: rate || undefined })));
}
