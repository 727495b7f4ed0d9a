/**
 * The reconciliation report against the simulator's ground truth, in a real
 * serve (in this process) with real Redis: a batch uploaded through the API,
 * some of its links paid, failed, expired or opened at the simulator, the
 * statuses confirmed through the webhook route and the confirmation jobs,
 * then the report's rows and totals compared with the simulator's payments,
 * row by row. CSV and workbook downloads need the token.
 */
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { formatCents } from '../../src/core/money.js';
import { silentLogger } from '../../src/core/logger.js';
import type { SimulatorPayment } from '../../src/paywint/simulator/payments.js';
import { startServer, type ServerHandle } from '../../src/serve/server.js';
import { connect } from '../../src/core/redis.js';
import { Keys } from '../../src/pipeline/keys.js';
import { decodeLedgerEntry, encodeLedgerEntry } from '../../src/pipeline/ledger.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/processes.js';
import { Client, TOKEN } from '../serve/support.js';

const SECRET = 'whsec-0123456789-abcdefghijklmnopqrstuv';
const DAY_MS = 86_400_000;

let prefix: string;
let server: ServerHandle;
let api: Client;

beforeAll(async () => {
  prefix = uniquePrefix('report');
  const config = loadConfig({
    dotenvPath: false,
    env: { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_WEBHOOK_SECRET: SECRET, PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_HTTP_PORT: '0', PAYLINKS_LOG_LEVEL: 'silent' },
  });
  server = await startServer({ config, logger: silentLogger(), simulate: true });
  api = new Client(server.url);
});

afterAll(async () => {
  await server?.close();
  await deletePrefix(testRedisUrl(), prefix);
});

interface Row {
  line: number | null;
  invoice_number: string;
  amount: string;
  payment_id: string;
  payment_link: string;
  payment_status: string;
  amount_paid: string;
  paid_at: string;
  failure_reason: string;
  exception: string;
  output_status: string;
}
interface Report {
  source: string;
  summary: Record<string, unknown> & { byStatus: Record<string, { count: number; amount: string }>; aging: Record<string, { count: number; amount: string }> };
  exceptions: { kind: string; invoiceNumber: string | null }[];
  rows: Row[];
  totalRows: number;
}

/** Our status for the simulator's. */
const OURS: Record<string, string> = { initiated: 'unpaid', opened: 'opened', processing: 'processing', success: 'paid', failed: 'failed', rejected: 'rejected', expired: 'expired' };

async function upload(name: string, lines: string[]): Promise<string> {
  const answer = await api.upload(name, `invoice_number,amount,description\n${lines.join('\n')}\n`);
  expect(answer.status, answer.text).toBe(201);
  const id = (answer.json as { batch_id: string }).batch_id;
  await api.waitFinished(id);
  return id;
}

async function report(id: string, query = '?limit=1000'): Promise<Report> {
  const answer = await api.request(`/api/batches/${id}/report.json${query}`);
  expect(answer.status, answer.text).toBe(200);
  return answer.json as Report;
}

describe('the reconciliation report', () => {
  it("matches the simulator's ground truth row by row, and in its totals", async () => {
    const lines = Array.from({ length: 14 }, (_, i) => `R-${String(i + 1).padStart(3, '0')},${(10 + i).toFixed(2)},Invoice ${i + 1}`);
    lines.splice(3, 0, 'R-BAD,12.3.4,bad amount');
    lines.push('R-001,10.00,Invoice 1'); // a duplicate in the file
    const id = await upload('reconcile.csv', lines);

    const first = await report(id);
    const linked = first.rows.filter((r) => r.payment_id !== '' && r.output_status === 'created');
    expect(linked).toHaveLength(14);
    const sim = server.simulator!;
    const [paidFull, paidLess, paid3, failed1, failed2, expired1, expired2, opened1] = linked.map((r) => r.payment_id);
    sim.movePayment(paidFull!, { to: 'paid' });
    sim.movePayment(paidLess!, { to: 'paid', amountCents: 500 });
    sim.movePayment(paid3!, { to: 'processing' });
    sim.movePayment(paid3!, { to: 'paid' });
    sim.movePayment(failed1!, { to: 'failed', reason: 'Insufficient funds' });
    sim.movePayment(failed2!, { to: 'failed' });
    sim.movePayment(expired1!, { to: 'expired' });
    sim.movePayment(expired2!, { to: 'expired' });
    sim.movePayment(opened1!, { to: 'opened' });
    await sim.webhooksIdle();

    const truth = new Map<string, SimulatorPayment>(sim.payments().map((p) => [p.paymentId, p]));
    let got: Report | undefined;
    await waitFor(
      async () => {
        got = await report(id);
        // The summary may come from a pass a moment ago (the route keeps it for 2 s): wait for one that saw every status too.
        const paidRows = got.rows.filter((r) => r.payment_status === 'paid').length;
        return got.rows.every((r) => r.payment_id === '' || r.payment_status === OURS[truth.get(r.payment_id)!.status]) && got.summary.byStatus.paid!.count === paidRows && got.summary.exceptions === 1;
      },
      'every status confirmed',
      30_000,
      200,
    );
    const rep = got!;
    expect(rep.source).toBe('batch');
    expect(rep.totalRows).toBe(16);
    expect(rep.rows.map((r) => r.line)).toEqual(Array.from({ length: 16 }, (_, i) => i + 2));

    // Row by row.
    for (const row of rep.rows) {
      if (row.payment_id === '') {
        expect(row.payment_status).toBe('');
        expect(['invalid', 'duplicate']).toContain(row.output_status);
        expect(row.failure_reason, 'a row without a link says why').toMatch(/^[A-Z_]+: ./);
        continue;
      }
      const p = truth.get(row.payment_id)!;
      expect(row.invoice_number).toBe(p.invoiceNumber);
      expect(row.amount).toBe(formatCents(p.linkAmountCents));
      expect(row.payment_link).toBe(p.paymentLink);
      expect(row.payment_status).toBe(OURS[p.status]);
      expect(row.amount_paid).toBe(p.status === 'success' ? formatCents(p.amountCents) : '');
      expect(row.paid_at === '' ? null : Date.parse(row.paid_at)).toBe(p.status === 'success' ? Math.floor(Date.parse(p.paymentDate!) / 1000) * 1000 : null);
      expect(row.failure_reason).toBe(p.failureReason ?? '');
    }
    expect(rep.rows.find((r) => r.payment_id === paidLess)!.exception).toBe('amount-mismatch');

    // The totals, from the ground truth.
    const ours = [...truth.values()].filter((p) => linked.some((r) => r.payment_id === p.paymentId));
    const sum = (ps: SimulatorPayment[], f: (p: SimulatorPayment) => number) => formatCents(ps.reduce((s, p) => s + f(p), 0));
    const byStatus = Object.fromEntries(
      ['unpaid', 'opened', 'processing', 'paid', 'failed', 'rejected', 'expired'].map((s) => {
        const ps = ours.filter((p) => OURS[p.status] === s);
        return [s, { count: ps.length, amount: sum(ps, (p) => p.linkAmountCents) }];
      }),
    );
    const paid = ours.filter((p) => p.status === 'success');
    const linkedCents = ours.reduce((s, p) => s + p.linkAmountCents, 0);
    const paidCents = paid.reduce((s, p) => s + p.amountCents, 0);
    const notPaid = ours.filter((p) => p.status !== 'success');
    expect(rep.summary).toEqual({
      rows: 16,
      links: 14,
      linkedAmount: formatCents(linkedCents),
      byStatus,
      paidAmount: formatCents(paidCents),
      collectedPercent: Math.floor((paidCents * 10_000) / linkedCents) / 100,
      aging: { '0-7': { count: notPaid.length, amount: sum(notPaid, (p) => p.linkAmountCents) }, '8-30': zero(), '31-60': zero(), '61-90': zero(), '>90': zero() },
      exceptions: 1,
      collected: false,
      withoutLink: 2,
    });
    expect(rep.exceptions.map((e) => e.kind)).toEqual(['amount-mismatch']);

    // Paging and rows=0.
    const page = await report(id, '?offset=3&limit=2');
    expect(page.rows.map((r) => r.line)).toEqual([5, 6]);
    expect(page.summary).toEqual(rep.summary);
    const bare = await report(id, '?rows=0');
    expect(bare.rows).toBeUndefined();
    expect(bare.summary).toEqual(rep.summary);

    // The CSV: every row, the same cells; the workbook: the same rows.
    const csv = await api.request(`/api/batches/${id}/report.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toContain('reconcile.report.csv');
    const records = parse(csv.text.replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
    expect(Object.keys(records[0]!).slice(0, 9)).toEqual(['invoice_number', 'amount', 'payment_id', 'payment_link', 'payment_status', 'amount_paid', 'paid_at', 'failure_reason', 'exception']);
    expect(records.map((r) => [r.invoice_number, r.payment_id, r.payment_status, r.amount_paid, r.failure_reason, r.exception])).toEqual(
      rep.rows.map((r) => [r.invoice_number, r.payment_id, r.payment_status, r.amount_paid, r.failure_reason, r.exception]),
    );
    const xlsx = await api.request(`/api/batches/${id}/report.xlsx`);
    expect(xlsx.status).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    const sheet = book.getWorksheet('Report')!;
    expect(sheet.rowCount).toBe(17);
    const paidRow = rep.rows.find((r) => r.payment_id === paidFull)!;
    const cellsOf = (n: number) => (sheet.getRow(n).values as unknown[]).slice(1);
    const xlsxRow = [...Array(16).keys()].map((i) => cellsOf(i + 2)).find((c) => c[2] === paidFull)!;
    expect(xlsxRow[0]).toBe(paidRow.invoice_number);
    expect(xlsxRow[1]).toBe(Number(paidRow.amount));
    expect(xlsxRow[4]).toBe('paid');
    expect(book.getWorksheet('Summary')).toBeDefined();
  });

  it('needs the token (401), and says an unknown batch is not there (404 BATCH_NOT_FOUND)', async () => {
    const id = await upload('token.csv', ['T-1,5.00,x']);
    for (const ext of ['csv', 'xlsx', 'json']) {
      const anonymous = await new Client(server.url, null).request(`/api/batches/${id}/report.${ext}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.text).not.toContain('T-1');
      const unknown = await api.request(`/api/batches/20261207T000000-000000/report.${ext}`);
      expect(unknown.status).toBe(404);
      expect((unknown.json as { code: string }).code).toBe('BATCH_NOT_FOUND');
    }
  });

  it('after the batch rows expired: the links the batch made, from the ledger, in file order, saying so', async () => {
    const id = await upload('expired.csv', ['E-3,3.00,c', 'E-BAD,x,bad', 'E-1,1.00,a', 'E-2,2.00,b']);
    const before = await report(id);
    server.simulator!.movePayment(before.rows[2]!.payment_id, { to: 'paid' });
    await server.simulator!.webhooksIdle();
    await waitFor(async () => (await report(id)).rows[2]!.payment_status === 'paid', 'E-1 paid', 30_000, 100);
    const redis = connect(testRedisUrl());
    try {
      // What PAYLINKS_RETENTION_DAYS does to a finished batch: its rows and results go, the batch and the ledger stay.
      const keys = new Keys(prefix);
      await redis.del(keys.batchRows(id), keys.batchResults(id));
    } finally {
      await redis.quit();
    }
    const rep = await report(id);
    expect(rep.source).toBe('ledger');
    expect(rep.rows.map((r) => [r.line, r.invoice_number, r.payment_status, r.output_status])).toEqual([
      [null, 'E-3', 'unpaid', 'created'],
      [null, 'E-1', 'paid', 'created'],
      [null, 'E-2', 'unpaid', 'created'],
    ]);
    expect(rep.summary).toMatchObject({ rows: 4, links: 3, withoutLink: 1, linkedAmount: '6.00', paidAmount: '1.00', collectedPercent: 16.66 });
    const csv = await api.request(`/api/batches/${id}/report.csv`);
    expect(csv.status).toBe(200);
    expect(csv.text.trim().split('\r\n')).toHaveLength(4);
  });

  it('ages the links not paid by days since the link was made', async () => {
    const id = await upload('aging.csv', ['A-1,1.00,a', 'A-2,2.00,b', 'A-3,4.00,c', 'A-4,8.00,d', 'A-5,16.00,e', 'A-6,32.00,f']);
    // The links made 0, 8, 31, 61, 91 and 200 days ago (their ledger entries' creation time moved back).
    const redis = connect(testRedisUrl());
    try {
      const keys = new Keys(prefix);
      const ledgerKey = keys.ledger(server.simulator!.apiKey);
      for (const [invoice, days] of [['A-2', 8], ['A-3', 31], ['A-4', 61], ['A-5', 91], ['A-6', 200]] as const) {
        const entry = decodeLedgerEntry((await redis.hget(ledgerKey, invoice))!);
        await redis.hset(ledgerKey, invoice, encodeLedgerEntry({ ...entry, createdAt: new Date(Date.now() - days * DAY_MS - 60_000).toISOString() }));
      }
    } finally {
      await redis.quit();
    }
    const rep = await report(id);
    expect(rep.summary.aging).toEqual({
      '0-7': { count: 1, amount: '1.00' },
      '8-30': { count: 1, amount: '2.00' },
      '31-60': { count: 1, amount: '4.00' },
      '61-90': { count: 1, amount: '8.00' },
      '>90': { count: 2, amount: '48.00' },
    });
  });
});

function zero() {
  return { count: 0, amount: '0.00' };
}
