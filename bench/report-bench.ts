/**
 * The reconciliation report at a million rows: a private redis-server (no
 * persistence) holding a finished batch of `rows` rows as paylinks stores
 * one (its rows, results, ledger entries and payment index; a share of the
 * links paid, failed, expired, opened), then the report written by a child
 * process (`report-bench.js --child`), which reports its own peak RSS
 * (`maxRSS`) and CPU time (user + system) from `process.resourceUsage()`:
 * only the report, not the loading. Runs: the CSV from the batch rows, the
 * JSON summary pass, the workbook, and the CSV from the ledger alone (the
 * rows expired).
 *
 * Usage: `node dist/bench/report-bench.js [rows] [modes]` (default 1,000,000;
 * modes: comma-separated among csv, json-summary, xlsx, ledger-csv, in order).
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, startRedisServer } from '../src/core/redis.js';
import { encodeResult } from '../src/pipeline/batch-codec.js';
import { BatchStore } from '../src/pipeline/batch-store.js';
import { Keys } from '../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../src/pipeline/ledger.js';
import { encodeRecord, slotOf } from '../src/pipeline/payment-status/encoding.js';
import type { PaymentStatus } from '../src/pipeline/payment-status/model.js';
import { openReport, passReport, writeReportFile } from '../src/pipeline/report/index.js';

const ACCOUNT = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';
const PREFIX = 'bench';
const BATCH = '20261207T100000-a1b2c3';

export interface ReportRun {
  mode: string;
  rows: number;
  seconds: number;
  peakRssMb: number;
  cpuMicrosPerRow: number;
  fileMb: number | null;
}

export interface ReportBenchResult {
  rows: number;
  loadSeconds: number;
  loadAverage: number[];
  runs: ReportRun[];
}

/** Loads a finished batch of `rows` rows, with its links and their statuses, into Redis at `url`. */
async function load(url: string, rows: number): Promise<void> {
  const redis = connect(url);
  try {
    const keys = new Keys(PREFIX);
    const store = new BatchStore(redis, keys);
    const layout = { headers: ['invoice_number', 'amount', 'description'], invoice: 0, amount: 1, description: 2, delimiter: ',', encoding: 'utf-8' };
    await store.create({ file: 'million.csv', sha256: 'bench', account: ACCOUNT, layout, rows, valid: rows }, BATCH);
    const createdAt = Date.now() - 40 * 86_400_000;
    for (let from = 0; from < rows; from += 5_000) {
      const pipeline = redis.pipeline();
      const records: { line: number; cells: string[] }[] = [];
      for (let i = from; i < Math.min(rows, from + 5_000); i += 1) {
        const n = String(i).padStart(7, '0');
        const cents = 1_000 + (i % 90_000);
        const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
        records.push({ line: i + 2, cells: [`INV-${n}`, amount, `Invoice ${n}`] });
        if (i % 1000 === 999) {
          pipeline.hset(keys.batchResults(BATCH), String(i), encodeResult({ status: 'invalid', errorCode: 'INVALID_AMOUNT', errorMessage: 'not an amount', attempts: 0 }));
          continue;
        }
        const paymentId = randomUUID();
        const link = `https://pay.sandbox.paywint.com/l/${paymentId}`;
        pipeline.hset(keys.batchResults(BATCH), String(i), encodeResult({ status: 'created', paymentId, paymentLink: link, attempts: 1 }));
        const entryCreated = new Date(createdAt + (i % 60) * 86_400_000).toISOString();
        pipeline.hset(keys.ledger(ACCOUNT), `INV-${n}`, encodeLedgerEntry({ paymentId, paymentLink: link, amountCents: cents, description: `Invoice ${n}`, batchId: BATCH, row: i, createdAt: entryCreated }));
        const status = statusOf(i, paymentId, cents);
        const slot = slotOf(paymentId);
        pipeline.hset(keys.paymentBucket(ACCOUNT, slot.bucket), slot.field, encodeRecord(`INV-${n}`, status, paymentId, cents));
      }
      store.appendRows(pipeline, BATCH, from, records);
      await pipeline.exec();
    }
    const invalid = Math.floor(rows / 1000);
    await redis.hset(keys.batch(BATCH), { state: 'completed', done: rows, n_created: rows - invalid, n_invalid: invalid, finished_at: new Date().toISOString(), started_at: new Date().toISOString() });
  } finally {
    await redis.quit();
  }
}

/** 40% paid, 10% failed, 10% expired, 5% opened, the rest nothing heard. */
function statusOf(i: number, paymentId: string, cents: number): PaymentStatus | null {
  const k = i % 20;
  const confirmedAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  const base = { paymentId, amountPaidCents: null, paidAt: null, failureReason: null, confirmedAt, confirmedBy: 'webhook' as const };
  if (k < 8) return { ...base, state: 'paid', amountPaidCents: cents, paidAt: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, '.000Z') };
  if (k < 10) return { ...base, state: 'failed', failureReason: 'Payment declined' };
  if (k < 12) return { ...base, state: 'expired' };
  if (k < 13) return { ...base, state: 'opened' };
  return null;
}

/** In the child: one report, then its own figures on stdout. */
async function child(url: string, mode: string, file: string): Promise<void> {
  const redis = connect(url);
  const started = performance.now();
  let rows = 0;
  try {
    const keys = new Keys(PREFIX);
    const report = await openReport({ redis, keys, store: new BatchStore(redis, keys) }, BATCH);
    const totals = mode === 'json-summary' ? await passReport(report) : await writeReportFile(report, file);
    rows = report.source === 'batch' ? totals.summary.rows : totals.summary.links;
  } finally {
    await redis.quit();
  }
  const usage = process.resourceUsage();
  process.stdout.write(JSON.stringify({ rows, seconds: (performance.now() - started) / 1000, maxRssKb: usage.maxRSS, cpuMicros: usage.userCPUTime + usage.systemCPUTime }));
}

async function runChild(url: string, mode: string, file: string): Promise<ReportRun> {
  const script = fileURLToPath(import.meta.url);
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--child', url, mode, file], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout) as { rows: number; seconds: number; maxRssKb: number; cpuMicros: number };
  const size = mode === 'json-summary' ? null : (await stat(file)).size / 1e6;
  return { mode, rows: r.rows, seconds: r.seconds, peakRssMb: r.maxRssKb / 1024, cpuMicrosPerRow: r.cpuMicros / r.rows, fileMb: size };
}

export async function runReportBench(options: { rows?: number; modes?: string[] } = {}): Promise<ReportBenchResult> {
  const rows = options.rows ?? 1_000_000;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-report-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  try {
    const t0 = performance.now();
    await load(server.url, rows);
    const loadSeconds = (performance.now() - t0) / 1000;
    const runs: ReportRun[] = [];
    const modes = options.modes ?? ['csv', 'json-summary', 'xlsx', 'ledger-csv'];
    for (const mode of modes) {
      if (mode === 'ledger-csv') {
        // What PAYLINKS_RETENTION_DAYS does: the rows and results go, the batch hash and the ledger stay.
        const redis = connect(server.url);
        const keys = new Keys(PREFIX);
        await redis.del(keys.batchRows(BATCH), keys.batchResults(BATCH));
        await redis.quit();
      }
      runs.push(await runChild(server.url, mode, path.join(dir, `report-${mode}.${mode === 'xlsx' ? 'xlsx' : 'csv'}`)));
    }
    return { rows, loadSeconds, loadAverage: loadavg(), runs };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatReportBench(r: ReportBenchResult): string {
  const lines = [
    `${r.rows.toLocaleString('en-US')} rows (loaded in ${r.loadSeconds.toFixed(0)} s; load average ${r.loadAverage.map((l) => l.toFixed(2)).join(' ')})`,
    '| report | rows | time | peak RSS | CPU per row | file |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const run of r.runs) {
    lines.push(`| ${run.mode} | ${run.rows.toLocaleString('en-US')} | ${run.seconds.toFixed(1)} s | ${run.peakRssMb.toFixed(0)} MB | ${run.cpuMicrosPerRow.toFixed(1)} µs | ${run.fileMb === null ? '-' : `${run.fileMb.toFixed(0)} MB`} |`);
  }
  return lines.join('\n');
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const modes = process.argv[3]?.split(',');
  console.log(formatReportBench(await runReportBench({ rows, modes })));
}
