/**
 * "Find an invoice" (`GET /api/invoices/{invoiceNumber}`, src/pipeline/invoice-lookup.ts)
 * on a big ledger: a private redis-server (no persistence) with `invoices`
 * ledger entries as paylinks writes them, then the lookup of a number typed
 * as stored (one HMGET), in another case (a case-insensitive MATCH scan), of
 * an unknown number (the whole scan, nothing found) and of a non-ASCII
 * number (every field compared in this process). Wall time of each, median
 * of `repeat`, and this process's CPU time over the same runs.
 *
 * Usage: `node dist/bench/invoice-lookup-bench.js [invoices]` (default 1,000,000).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, startRedisServer } from '../src/core/redis.js';
import { findInvoice } from '../src/pipeline/invoice-lookup.js';
import { Keys } from '../src/pipeline/keys.js';
import { encodeLedgerEntry } from '../src/pipeline/ledger.js';

const ACCOUNT = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';

export interface LookupTiming {
  case: string;
  query: string;
  found: boolean;
  wallMs: number;
  cpuMs: number;
}

export async function runInvoiceLookupBench(options: { invoices?: number; repeat?: number } = {}): Promise<{ invoices: number; timings: LookupTiming[] }> {
  const invoices = options.invoices ?? 1_000_000;
  const repeat = options.repeat ?? 3;
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-lookup-bench-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  const redis = connect(server.url);
  try {
    const keys = new Keys('bench');
    const ledgerKey = keys.ledger(ACCOUNT);
    const createdAt = new Date().toISOString();
    for (let from = 0; from < invoices; from += 10_000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(invoices, from + 10_000); i += 1) {
        const paymentId = randomUUID();
        const n = String(i).padStart(7, '0');
        pipeline.hset(ledgerKey, `Inv-${n}`, encodeLedgerEntry({ paymentId, paymentLink: `https://pay.sandbox.paywint.com/l/${paymentId}`, amountCents: 10_000 + (i % 90_000), description: `Invoice ${n}`, batchId: '20261207T100000-a1b2c3', row: i, createdAt }));
      }
      await pipeline.exec();
    }
    const last = `Inv-${String(invoices - 1).padStart(7, '0')}`;
    const cases = [
      { case: 'as stored', query: last },
      { case: 'another case', query: last.toUpperCase() },
      { case: 'unknown', query: 'NOPE-0000001' },
      { case: 'non-ASCII, unknown', query: 'FACTURE-É-1' },
    ];
    const timings: LookupTiming[] = [];
    for (const c of cases) {
      const walls: number[] = [];
      const cpu0 = process.cpuUsage();
      let found = false;
      for (let r = 0; r < repeat; r += 1) {
        const t0 = process.hrtime.bigint();
        found = (await findInvoice(redis, keys, ACCOUNT, c.query)) !== null;
        walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const cpu = process.cpuUsage(cpu0);
      walls.sort((a, b) => a - b);
      timings.push({ ...c, found, wallMs: walls[Math.floor(walls.length / 2)]!, cpuMs: (cpu.user + cpu.system) / 1000 / repeat });
    }
    return { invoices, timings };
  } finally {
    await redis.quit();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatInvoiceLookup(result: { invoices: number; timings: LookupTiming[] }): string {
  const lines = [`find an invoice in a ledger of ${result.invoices.toLocaleString('en-US')} links (median wall time; this process's CPU per lookup)`];
  for (const t of result.timings) lines.push(`  ${t.case.padEnd(20)} ${JSON.stringify(t.query).padEnd(16)} ${t.found ? 'found    ' : 'not found'} ${t.wallMs.toFixed(1).padStart(8)} ms   cpu ${t.cpuMs.toFixed(1).padStart(7)} ms`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatInvoiceLookup(await runInvoiceLookupBench({ invoices: Number(process.argv[2] ?? 1_000_000) })));
}
