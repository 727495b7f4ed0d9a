/**
 * `paylinks report`, spawned as a user types it, after a spawned `paylinks
 * run`: payments moved at the simulator and confirmed through the status
 * path (a GET of each payment, as the sweep does), then the CSV on stdout,
 * the workbook with -o, the --json summary, and an unknown batch's message
 * and exit code.
 */
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keys } from '../../src/pipeline/keys.js';
import { confirmPayment } from '../../src/pipeline/payment-status/confirm.js';
import { PaymentExceptions } from '../../src/pipeline/payment-status/exceptions.js';
import { PaymentStatusStore } from '../../src/pipeline/payment-status/store.js';
import { readOutputCsv } from '../helpers/csv.js';
import { runCliToEnd } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';
import { simulatorClient } from '../helpers/simulator.js';
import { API_KEY, API_SECRET, paylinksEnv, useWorkspace, writeInvoiceFile } from './support.js';

const ws = useWorkspace('report-cli', 'reportcli');

describe('paylinks report (spawned)', () => {
  it('writes every row with its payment status (stdout CSV, -o workbook) and the --json summary; an unknown batch exits 2 saying so', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim });
    const file = await writeInvoiceFile(ws.dir, 'june.csv', 6);
    const output = path.join(ws.dir, 'june.out.csv');
    const run = await runCliToEnd(['run', file, '-o', output], { env, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const out = (await readOutputCsv(output)).rows;

    // Two paid, one expired at the simulator; confirmed by reading each payment, as the sweep does.
    sim.movePayment(out[0]!.payment_id!, { to: 'paid' });
    sim.movePayment(out[1]!.payment_id!, { to: 'paid' });
    sim.movePayment(out[2]!.payment_id!, { to: 'expired' });
    const redis = new Redis(testRedisUrl());
    const client = simulatorClient(sim, { apiSecret: API_SECRET });
    try {
      const keys = new Keys(ws.prefix);
      const deps = { store: new PaymentStatusStore(redis, keys, API_KEY), exceptions: new PaymentExceptions(redis, keys, API_KEY) };
      for (const row of out.slice(0, 3)) {
        const payment = await client.getPayment(row.payment_id!);
        expect(await confirmPayment(deps, { paymentId: row.payment_id!, payment, by: 'sweep', observedAtMs: Date.now() })).toBe('recorded');
      }
    } finally {
      await client.close();
      await redis.quit();
    }
    const batches = await runCliToEnd(['status', '--json'], { env });
    const id = (JSON.parse(batches.stdout) as { id: string }[])[0]!.id;

    const csv = await runCliToEnd(['report', id], { env });
    expect(csv.code, csv.stderr).toBe(0);
    const rows = parse(csv.stdout.replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.invoice_number, r.payment_id, r.payment_status])).toEqual(
      out.map((r, i) => [r.invoice_number, r.payment_id, i < 2 ? 'paid' : i === 2 ? 'expired' : 'unpaid']),
    );
    expect(rows[0]!.amount_paid).toBe(rows[0]!.amount);

    const json = await runCliToEnd(['report', id, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const summary = (JSON.parse(json.stdout) as { summary: Record<string, unknown> & { byStatus: Record<string, { count: number }> } }).summary;
    expect(summary).toMatchObject({ rows: 6, links: 6, withoutLink: 0, exceptions: 0, collected: false });
    expect([summary.byStatus.paid!.count, summary.byStatus.expired!.count, summary.byStatus.unpaid!.count]).toEqual([2, 1, 3]);

    const workbook = path.join(ws.dir, 'june.report.xlsx');
    const xlsx = await runCliToEnd(['report', id, '-o', workbook], { env });
    expect(xlsx.code, xlsx.stderr).toBe(0);
    expect(xlsx.stdout).toContain(`Workbook written to ${workbook}`);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(workbook);
    const sheet = book.getWorksheet('Report')!;
    expect(sheet.rowCount).toBe(7);
    expect((sheet.getRow(2).values as unknown[]).slice(1, 6)).toEqual([rows[0]!.invoice_number, Number(rows[0]!.amount), rows[0]!.payment_id, expect.anything(), 'paid']);

    const unknown = await runCliToEnd(['report', '20261207T000000-000000'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no batch 20261207T000000-000000 [BATCH_NOT_FOUND]');
    expect(unknown.stdout).toBe('');
    // Seven spawned commands: room for a loaded machine.
  }, 180_000);
});
