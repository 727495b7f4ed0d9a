/**
 * The ledger as a record, in one process: real Redis, the Paywint simulator
 * over HTTP, `runFile` for the batches, the exported CSV read back as a
 * spreadsheet would, and the simulator's ledger as the truth about links.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { Keys } from '../../src/pipeline/keys.js';
import { exportLedger, formatImportReport, importLedger, parseIsoInstant } from '../../src/pipeline/ledger-records.js';
import { decodeLedgerEntry } from '../../src/pipeline/ledger.js';
import { PaymentStatusStore } from '../../src/pipeline/payment-status/store.js';
import { runFile } from '../../src/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const API_KEY = '8e1d2c3b-4a5f-4e6d-9c7b-0a1b2c3d4e5f';
const API_SECRET = 'sk_test_ledger-records-not-real';

let dir: string;
let prefix: string;
let redis: Redis;
let sim: SimulatorHandle;

function config(): Config {
  return loadConfig({
    dotenvPath: false,
    env: { PAYWINT_API_KEY: API_KEY, PAYWINT_API_SECRET: API_SECRET, PAYWINT_BASE_URL: sim.url, REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_RATE_LIMIT: '500', PAYLINKS_CONCURRENCY: '8' },
  });
}

function location() {
  return { redis, keys: new Keys(prefix), account: API_KEY };
}

function uuid(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

/** A file to import: header, then rows of cells, joined as given (the caller quotes). */
async function importFile(name: string, lines: readonly string[], header = 'invoice_number,amount,description,payment_id,payment_link,created_at,batch'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, [header, ...lines].join('\r\n') + '\r\n');
  return file;
}

async function ledgerSize(): Promise<number> {
  return redis.hlen(new Keys(prefix).ledger(API_KEY));
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-ledger-'));
  prefix = uniquePrefix('ledger');
  redis = new Redis(testRedisUrl());
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
});

afterEach(async (context) => {
  await sim.close();
  redis.disconnect();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

describe('ledger export', () => {
  it("after a run, writes one row per link with the simulator's ids, links and amounts, as the output file is written", async () => {
    const file = path.join(dir, 'march.csv');
    const rows: [string, string, string][] = Array.from({ length: 25 }, (_, i) => [`INV-${i + 1}`, `${i + 1}.0${i % 10}`, `Services ${i + 1}`]);
    rows.push(['INV-26', '1234567.89', '=HYPERLINK("http://x")'], ['INV-27', '0.01', '']);
    await writeInvoices(file, rows);
    const run = await runFile({ file, config: config(), logger: silentLogger() });
    expect(run.batch.counts.created).toBe(27);
    // Two links' payments confirmed as the sweep would: INV-2 paid (less than asked), INV-3 failed.
    const statuses = new PaymentStatusStore(redis, new Keys(prefix), API_KEY);
    const entryOf = async (invoice: string) => decodeLedgerEntry((await redis.hget(new Keys(prefix).ledger(API_KEY), invoice))!);
    const observedAtMs = Date.parse('2026-12-07T10:00:00Z');
    const two = await entryOf('INV-2');
    await statuses.record('INV-2', two, { state: 'paid', paymentId: two.paymentId, amountCents: 150, paidAt: '2026-12-07T09:30:00Z', failureReason: null, observedAtMs, by: 'sweep' });
    const three = await entryOf('INV-3');
    await statuses.record('INV-3', three, { state: 'failed', paymentId: three.paymentId, amountCents: three.amountCents, paidAt: null, failureReason: 'Card declined', observedAtMs, by: 'webhook' });

    const out = path.join(dir, 'ledger.csv');
    const result = await exportLedger({ ...location(), output: out });

    expect(result).toEqual({ entries: 27, scanned: 27 });
    const { raw, headers, rows: exported } = await readOutputCsv(out);
    expect(raw.startsWith('\uFEFF')).toBe(true);
    expect(raw.split('\r\n')).toHaveLength(29); // header, 27 rows, the empty string after the last CRLF
    expect(headers).toEqual(['invoice_number', 'amount', 'description', 'payment_id', 'payment_link', 'created_at', 'batch', 'payment_status', 'amount_paid', 'paid_at', 'failure_reason', 'confirmed_at', 'confirmed_by']);
    const byInvoice = new Map(exported.map((r) => [r.invoice_number, r]));
    const statusOf = (invoice: string) => {
      const r = byInvoice.get(invoice)!;
      return [r.payment_status, r.amount_paid, r.paid_at, r.failure_reason, r.confirmed_at, r.confirmed_by];
    };
    expect(statusOf('INV-2')).toEqual(['paid', '1.50', '2026-12-07T09:30:00.000Z', '', '2026-12-07T10:00:00.000Z', 'sweep']);
    expect(statusOf('INV-3')).toEqual(['failed', '', '', 'Card declined', '2026-12-07T10:00:00.000Z', 'webhook']);
    expect(statusOf('INV-4')).toEqual(['unpaid', '', '', '', '', '']);
    expect(sim.ledger()).toHaveLength(27);
    for (const link of sim.ledger()) {
      const row = byInvoice.get(link.invoiceNumber ?? '');
      expect(row, `invoice ${link.invoiceNumber}`).toBeDefined();
      expect(row!.payment_id).toBe(link.paymentId);
      expect(row!.payment_link).toBe(link.paymentLink);
      expect(row!.amount).toBe(link.amount.includes('.') ? link.amount.padEnd(link.amount.indexOf('.') + 3, '0') : `${link.amount}.00`);
      expect(row!.batch).toBe(run.batchId);
      expect(Math.abs(Date.parse(row!.created_at!) - Date.now())).toBeLessThan(120_000);
      expect(row!.created_at).toBe(new Date(row!.created_at!).toISOString());
    }
    expect(byInvoice.get('INV-26')!.amount).toBe('1234567.89');
    expect(byInvoice.get('INV-27')!.amount).toBe('0.01');
    expect(byInvoice.get('INV-3')!.description).toBe('Services 3');
    // Formula neutralised, as in the output file.
    expect(byInvoice.get('INV-26')!.description).toBe('\'=HYPERLINK("http://x")');
  });

  it('--since keeps the entries created at or after the date; an empty ledger exports the header alone', async () => {
    const empty = path.join(dir, 'empty.csv');
    expect(await exportLedger({ ...location(), output: empty })).toEqual({ entries: 0, scanned: 0 });
    expect(await readFile(empty, 'utf8')).toBe('\uFEFFinvoice_number,amount,description,payment_id,payment_link,created_at,batch,payment_status,amount_paid,paid_at,failure_reason,confirmed_at,confirmed_by\r\n');

    const old = await importFile('old.csv', [
      `OLD-1,10.00,Old one,${uuid(1)},https://pay.example.com/l/1,2021-06-01T08:00:00Z,legacy`,
      `OLD-2,20.00,Old two,${uuid(2)},https://pay.example.com/l/2,2021-12-31T23:59:59.999Z,legacy`,
    ]);
    expect((await importLedger({ ...location(), file: old })).imported).toBe(2);
    const file = path.join(dir, 'new.csv');
    await writeInvoices(file, [['NEW-1', '5.00', 'New']]);
    await runFile({ file, config: config(), logger: silentLogger() });

    const invoicesSince = async (since: string) => {
      const out = path.join(dir, `since-${since}.csv`);
      await exportLedger({ ...location(), output: out, since: new Date(parseIsoInstant(since)!) });
      return (await readOutputCsv(out)).rows.map((r) => r.invoice_number).sort();
    };
    expect(await invoicesSince('2021-01-01')).toEqual(['NEW-1', 'OLD-1', 'OLD-2']);
    expect(await invoicesSince('2021-12-31T23:59:59.999Z')).toEqual(['NEW-1', 'OLD-2']);
    expect(await invoicesSince('2022-01-01')).toEqual(['NEW-1']);
    expect(await invoicesSince('2999-01-01')).toEqual([]);
  });

  it('a ledger of 3,000 entries, imported in chunks, is exported page by page (HSCAN), each entry once', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `P-${i},${i + 1}.25,,${uuid(i)},https://pay.example.com/l/${i},,`);
    const report = await importLedger({ ...location(), file: await importFile('many.csv', lines), chunkRows: 400 });
    expect([report.imported, report.problems]).toEqual([3000, []]);

    const out = path.join(dir, 'many-out.csv');
    const result = await exportLedger({ ...location(), output: out, scanCount: 50 });

    expect(result).toEqual({ entries: 3000, scanned: 3000 });
    const rows = (await readOutputCsv(out)).rows;
    expect(new Set(rows.map((r) => r.invoice_number)).size).toBe(3000);
    expect(rows.find((r) => r.invoice_number === 'P-2999')).toMatchObject({ amount: '3000.25', payment_id: uuid(2999) });
  });

  it('reads dates as ISO 8601 only, impossible days refused', () => {
    expect(parseIsoInstant('2026-11-01')).toBe(Date.UTC(2026, 10, 1));
    expect(parseIsoInstant('2026-11-01T09:30:00+01:00')).toBe(Date.UTC(2026, 10, 1, 8, 30));
    for (const bad of ['2026-02-30', '01/11/2026', '2026-11-01T09:30', 'yesterday', '']) expect(parseIsoInstant(bad), bad).toBeUndefined();
  });
});

describe('ledger import', () => {
  it('imported links are reported `exists` by a run, and the simulator makes no link for them', async () => {
    const file = await importFile('before.csv', [
      `INV-1,100.00,Consulting,${uuid(1)},https://pay.example.com/l/${uuid(1)},2025-01-15,old-tool`,
      `INV-2,"1,250.50",,${uuid(2)},https://pay.example.com/l/${uuid(2)},,`,
      `INV-3,$7.5,Parts,${uuid(3)},https://pay.example.com/l/${uuid(3)},,`,
    ]);
    const report = await importLedger({ ...location(), file, now: new Date('2026-01-02T03:04:05Z') });
    expect(report).toEqual({ file, rows: 3, imported: 3, unchanged: 0, problems: [] });
    expect(formatImportReport(report)).toBe(`Imported 3 entries from ${file} into the ledger.`);

    const invoices = path.join(dir, 'april.csv');
    await writeInvoices(invoices, [
      ['INV-1', '100', 'Consulting'],
      ['INV-2', '1250.50', ''],
      ['INV-3', '7.50', 'Parts'],
      ['INV-4', '40.00', 'New work'],
    ]);
    const run = await runFile({ file: invoices, config: config(), logger: silentLogger() });

    expect(run.batch.state).toBe('completed');
    const { rows } = await readOutputCsv(run.outputFile!);
    expect(rows.map((r) => [r.invoice_number, r.status, r.payment_id, r.attempts])).toEqual([
      ['INV-1', 'exists', uuid(1), '0'],
      ['INV-2', 'exists', uuid(2), '0'],
      ['INV-3', 'exists', uuid(3), '0'],
      ['INV-4', 'created', rows[3]!.payment_id, '1'],
    ]);
    expect(rows[0]!.payment_link).toBe(`https://pay.example.com/l/${uuid(1)}`);
    expect(sim.ledger().map((l) => l.invoiceNumber)).toEqual(['INV-4']);

    // Exported back: the defaults the import filled in.
    const out = path.join(dir, 'ledger.csv');
    await exportLedger({ ...location(), output: out });
    const exported = new Map((await readOutputCsv(out)).rows.map((r) => [r.invoice_number, r]));
    expect(exported.get('INV-1')).toMatchObject({ amount: '100.00', created_at: '2025-01-15T00:00:00.000Z', batch: 'old-tool' });
    expect(exported.get('INV-2')).toMatchObject({ amount: '1250.50', description: '', created_at: '2026-01-02T03:04:05.000Z' });
    expect(exported.get('INV-2')!.batch).toMatch(/^import-[0-9a-f]{12}$/);
  });

  it('bad rows are reported by the line they start on, and nothing is written', async () => {
    const file = await importFile('bad.csv', [
      `A-1,10.00,fine,${uuid(1)},https://pay.example.com/l/1,,`, // line 2
      `A-2,ten,,${uuid(2)},https://pay.example.com/l/2,,`, // 3
      `A-3,"5.00","two`, // 4: a description over two lines
      `lines",${uuid(3)},https://pay.example.com/l/3,,`, // 5
      `A-4,1.999,,${uuid(4)},https://pay.example.com/l/4,,`, // 6
      `A-5,4.00,,not-a-uuid,https://pay.example.com/l/5,,`, // 7
      `A-6,4.00,,${uuid(6)},http://pay.example.com/l/6,,`, // 8
      `A-7,4.00,,${uuid(7)},,,`, // 9
      `A-8,4.00,,${uuid(8)},https://pay.example.com/l/8,2026-02-30,`, // 10
      '', // 11: blank, skipped
      `A-1,10.00,fine,${uuid(1)},https://pay.example.com/l/1,,`, // 12: a duplicate
      `,3.00,,${uuid(9)},https://pay.example.com/l/9,,`, // 13
      `A-10,3.00,,${uuid(10)},https://pay.example.com/l/10,,${'b'.repeat(65)}`, // 14
      `A-11,3.00,,,https://pay.example.com/l/11,,`, // 15
    ]);

    const report = await importLedger({ ...location(), file });

    expect(report.imported).toBe(0);
    expect(report.rows).toBe(12);
    expect(report.problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'INVALID_AMOUNT'],
      [6, 'AMOUNT_TOO_PRECISE'],
      [7, 'INVALID_PAYMENT_ID'],
      [8, 'INVALID_PAYMENT_LINK'],
      [9, 'MISSING_PAYMENT_LINK'],
      [10, 'INVALID_CREATED_AT'],
      [12, 'DUPLICATE_INVOICE'],
      [13, 'MISSING_INVOICE_NUMBER'],
      [14, 'BATCH_TOO_LONG'],
      [15, 'MISSING_PAYMENT_ID'],
    ]);
    expect(report.problems.find((p) => p.line === 12)!.message).toBe('the same invoice number is already on line 2: each invoice has one link');
    const text = formatImportReport(report);
    expect(text).toMatch(/^10 of 12 rows cannot be imported; nothing was imported:$/m);
    expect(text).toContain('line 7: A-5 — INVALID_PAYMENT_ID: "not-a-uuid" is not a payment id');
    expect(await ledgerSize()).toBe(0);
  });

  it('a file without a payment link column is refused as a whole', async () => {
    const file = await importFile('cols.csv', [`A-1,10.00,${uuid(1)}`], 'invoice_number,amount,payment_id');
    await expect(importLedger({ ...location(), file })).rejects.toMatchObject({ code: 'FILE_MISSING_COLUMN', line: 1 });
    expect(await ledgerSize()).toBe(0);
  });

  it('an invoice the ledger holds with another link or amount is a conflict; one being sent is in progress; nothing is written', async () => {
    const invoices = path.join(dir, 'may.csv');
    await writeInvoices(invoices, [['C-1', '10.00', 'Made by paylinks']]);
    const run = await runFile({ file: invoices, config: config(), logger: silentLogger() });
    const { rows } = await readOutputCsv(run.outputFile!);
    const made = rows[0]!;
    await redis.hset(new Keys(prefix).claims(API_KEY), 'C-9', JSON.stringify({ owner: 'someone-r0', attempts: 1, unknown: 0, inFlight: 1, firstAt: Date.now() }));

    const file = await importFile('conflict.csv', [
      `C-0,1.00,,${uuid(10)},https://pay.example.com/l/10,,`, // line 2: new, fine
      `C-1,10.00,Made by paylinks,${uuid(11)},https://pay.example.com/l/11,,`, // 3: another link
      `C-9,9.00,,${uuid(19)},https://pay.example.com/l/19,,`, // 4: claimed right now
    ]);
    const report = await importLedger({ ...location(), file });

    expect(report.imported).toBe(0);
    expect(report.problems.map((p) => [p.line, p.invoiceNumber, p.code])).toEqual([
      [3, 'C-1', 'LEDGER_CONFLICT'],
      [4, 'C-9', 'INVOICE_IN_PROGRESS'],
    ]);
    expect(report.problems[0]!.message).toContain(`already has link ${made.payment_id} (${made.payment_link}) for 10.00`);
    expect(await ledgerSize()).toBe(1);
    const again = await runFile({ file: invoices, config: config(), logger: silentLogger() });
    expect((await readOutputCsv(again.outputFile!)).rows[0]).toMatchObject({ status: 'exists', payment_id: made.payment_id });

    // The same amount, another description: a conflict too (a run would call that row a conflict).
    const other = await importFile('other.csv', [`C-1,10.00,Something else,${made.payment_id},${made.payment_link},,`]);
    expect((await importLedger({ ...location(), file: other })).problems.map((p) => p.code)).toEqual(['LEDGER_CONFLICT']);
  });

  it('importing again changes nothing; an export imports back, neutralised cells and all, into an empty ledger', async () => {
    const file = await importFile('links.csv', [
      `R-1,10.00,Plain,${uuid(1)},https://pay.example.com/l/1,2024-03-01T10:00:00Z,b1`,
      `=R-2,20.00,"=cmd|' /C calc'!A0",${uuid(2)},https://pay.example.com/l/2,,b1`,
      `R-3,-0.00x,,${uuid(3)},https://pay.example.com/l/3,,`,
    ]);
    expect((await importLedger({ ...location(), file })).problems.map((p) => [p.line, p.code])).toEqual([[4, 'INVALID_AMOUNT']]);
    await writeFile(file, (await readFile(file, 'utf8')).replace(/R-3,-0\.00x/, 'R-3,30'));

    const first = await importLedger({ ...location(), file });
    const second = await importLedger({ ...location(), file });

    expect([first.imported, first.unchanged, first.problems]).toEqual([3, 0, []]);
    expect([second.imported, second.unchanged, second.problems]).toEqual([0, 3, []]);
    expect(formatImportReport(second)).toBe(`Imported 0 entries from ${file} into the ledger (3 entries already there, unchanged).`);

    const exported = path.join(dir, 'backup.csv');
    await exportLedger({ ...location(), output: exported });
    const original = prefix;
    prefix = uniquePrefix('ledger-restore');
    try {
      const restored = await importLedger({ ...location(), file: exported });
      expect([restored.imported, restored.problems]).toEqual([3, []]);
      const again = path.join(dir, 'backup-again.csv');
      await exportLedger({ ...location(), output: again });
      const sorted = async (f: string) => (await readOutputCsv(f)).rows.sort((a, b) => a.invoice_number!.localeCompare(b.invoice_number!));
      expect(await sorted(again)).toEqual(await sorted(exported));
      expect((await sorted(again)).find((r) => r.payment_id === uuid(2))).toMatchObject({ invoice_number: "'=R-2", description: "'=cmd|' /C calc'!A0" });
      expect(await redis.hexists(new Keys(prefix).ledger(API_KEY), '=R-2')).toBe(1);
    } finally {
      await deletePrefix(testRedisUrl(), prefix);
      prefix = original;
    }
  });
});
