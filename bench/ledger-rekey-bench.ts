/**
 * Moving a ledger written before it was keyed by invoice keys
 * (src/pipeline/ledger-rekey.ts), at a million entries: a private
 * redis-server (no persistence), a ledger as paylinks wrote it before, then
 * the pass, side by side for a ledger whose numbers are all upper case
 * already (nothing moves: the pass only reads) and one whose numbers are all
 * lower case (every entry moves). Reports wall time, the process's CPU time
 * (from /proc), Redis's CPU time (INFO), Redis memory before and after, and
 * the cost of a start once the marker is set (one GET).
 *
 * Usage: `node dist/bench/ledger-rekey-bench.js [--entries 1000000]`; also
 * `npm run bench -- rekey`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/core/logger.js';
import type { RedisClient } from '../src/core/lua.js';
import { connect, startRedisServer } from '../src/core/redis.js';
import { Keys } from '../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../src/pipeline/ledger.js';
import { ensureLedgerKeyed } from '../src/pipeline/ledger-rekey.js';

const ACCOUNT = '4d3c2b1a-0f9e-4d8c-9b7a-6f5e4d3c2b1a';

export interface RekeyBenchRow {
  case: string;
  entries: number;
  moved: number;
  wallSeconds: number;
  processCpuSeconds: number;
  redisCpuSeconds: number;
  memoryBeforeMb: number;
  memoryAfterMb: number;
  /** A start once the ledger is keyed: one GET, ms. */
  keyedStartMs: number;
}

async function info(redis: RedisClient): Promise<{ usedMemory: number; cpu: number }> {
  const text = await redis.info();
  const num = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(text)![1]);
  return { usedMemory: num('used_memory'), cpu: num('used_cpu_sys') + num('used_cpu_user') };
}

/** This process's CPU time (user + system), seconds, from /proc. */
async function processCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function benchCase(name: string, entries: number, numberOf: (i: number) => string): Promise<RekeyBenchRow> {
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-rekey-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  const redis = connect(server.url);
  try {
    const keys = new Keys('bench');
    const ledgerKey = keys.ledger(ACCOUNT);
    const createdAt = new Date().toISOString();
    for (let from = 0; from < entries; from += 10_000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(entries, from + 10_000); i += 1) {
        const paymentId = randomUUID();
        // As paylinks wrote entries before: under the number as written, none in the entry.
        pipeline.hset(ledgerKey, numberOf(i), encodeLedgerEntry({ paymentId, paymentLink: `https://pay.sandbox.paywint.com/l/${paymentId}`, amountCents: 10_000 + (i % 90_000), description: `Invoice ${i}`, batchId: '20261207T100000-a1b2c3', row: i, createdAt }));
      }
      await pipeline.exec();
    }
    const before = await info(redis);
    const cpu0 = await processCpuSeconds();
    const t0 = process.hrtime.bigint();
    const report = await ensureLedgerKeyed(redis, keys, ACCOUNT, silentLogger());
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = await processCpuSeconds();
    const after = await info(redis);
    const t1 = process.hrtime.bigint();
    const again = await ensureLedgerKeyed(redis, keys, ACCOUNT, silentLogger());
    const keyedStartMs = Number(process.hrtime.bigint() - t1) / 1e6;
    if (again !== undefined || (await redis.hlen(ledgerKey)) !== entries) throw new Error('the pass ran twice, or lost entries');
    return {
      case: name,
      entries,
      moved: report?.moved ?? 0,
      wallSeconds,
      processCpuSeconds: cpu1 - cpu0,
      redisCpuSeconds: after.cpu - before.cpu,
      memoryBeforeMb: before.usedMemory / 1e6,
      memoryAfterMb: after.usedMemory / 1e6,
      keyedStartMs,
    };
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runRekeyBench(options: { entries?: number } = {}): Promise<RekeyBenchRow[]> {
  const entries = options.entries ?? 1_000_000;
  const pad = (i: number) => String(i).padStart(7, '0');
  return [await benchCase('all upper case (nothing moves)', entries, (i) => `INV-${pad(i)}`), await benchCase('all lower case (every entry moves)', entries, (i) => `inv-${pad(i)}`)];
}

export function formatRekeyBench(rows: readonly RekeyBenchRow[]): string {
  const header = ['case', 'entries', 'moved', 'wall s', 'paylinks CPU s', 'Redis CPU s', 'Redis MB before', 'after', 'keyed start ms'];
  const body = rows.map((r) => [r.case, r.entries.toLocaleString('en-US'), r.moved.toLocaleString('en-US'), r.wallSeconds.toFixed(1), r.processCpuSeconds.toFixed(1), r.redisCpuSeconds.toFixed(1), r.memoryBeforeMb.toFixed(0), r.memoryAfterMb.toFixed(0), r.keyedStartMs.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [header, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { entries: { type: 'string', default: '1000000' } } });
  console.log(formatRekeyBench(await runRekeyBench({ entries: Number(values.entries) })));
}
