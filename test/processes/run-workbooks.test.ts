/**
 * `paylinks run` on workbooks and spreadsheet exports, spawned as a user runs
 * it against the test's own simulator: what the output says for each row, and
 * what the simulator's ledger holds (each valid invoice created exactly once,
 * with the exact amount; nothing for totals, hidden rows, error cells or
 * ambiguous amounts).
 */
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import yauzl, { type Entry } from 'yauzl';
import { readOutputCsv } from '../helpers/csv.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { runCliToEnd } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';
import { CellKind, Workbook, type SheetRow } from '../../src/intake/workbook.js';
import type { SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { API_KEY, API_SECRET, checkAgainstLedger, paylinksEnv, useWorkspace } from './support.js';

const ws = useWorkspace('run-wb', 'runwb');

async function fixtureCopy(name: string): Promise<string> {
  const file = path.join(ws.dir, path.basename(name));
  await copyFile(path.join(REPO_ROOT, 'fixtures', name), file);
  return file;
}

async function run(sim: SimulatorHandle, file: string, ...flags: string[]) {
  return runCliToEnd(['run', file, ...flags], { env: paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim }), cwd: ws.dir, timeoutMs: 90_000 });
}

/** The simulator's links as [invoice number, amount as received]. */
const ledgerOf = (sim: SimulatorHandle) => sim.ledger().map((e) => [e.invoiceNumber, e.amount]);

async function readWorkbook(file: string): Promise<SheetRow[]> {
  const workbook = await Workbook.open(file);
  const rows: SheetRow[] = [];
  try {
    for await (const batch of workbook.rows(workbook.sheets[0]!)) rows.push(...batch);
  } finally {
    workbook.close();
  }
  return rows;
}

describe('paylinks run on a workbook (spawned)', () => {
  it('creates each valid invoice once with the exact amount; writes an .xlsx with links, numbers and the frozen header', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const file = await fixtureCopy('workbooks/invoices.xlsx');
    const output = path.join(ws.dir, 'links.xlsx');

    const result = await run(sim, file, '-o', output);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^Batch \S+ completed_with_errors: 12 rows \(created 7, invalid 5\)$/m);
    expect(ledgerOf(sim).sort()).toEqual(
      [
        ['000123', '89.99'],
        ['123', '1250'],
        ['INV-0004', '1339.99'],
        ['INV-0009', '45.5'],
        ['124', '75.25'],
        ['INV-0011', '1234.56'],
        ['INV-0012', '0.3'],
      ].sort(),
    );

    const rows = await readWorkbook(output);
    const [header, ...data] = rows;
    expect(header!.cells).toEqual(['Invoice Number', 'Customer', 'Amount', 'Description', 'Due Date', 'Account', 'status', 'payment_id', 'payment_link', 'error_code', 'error_message', 'attempts']);
    expect(data.map((r) => [r.cells[0], r.cells[6], r.cells[9] ?? ''])).toEqual([
      ['000123', 'created', ''],
      ['123', 'created', ''],
      ['INV-0003', 'invalid', 'AMOUNT_TOO_PRECISE'],
      ['INV-0004', 'created', ''],
      ['INV-0006', 'invalid', 'CELL_ERROR'],
      ['INV-0007', 'invalid', 'CELL_ERROR'],
      ['INV-0008', 'invalid', 'ROW_HIDDEN'],
      ['INV-0009', 'created', ''],
      ['124', 'created', ''],
      ['INV-0011', 'created', ''],
      ['INV-0012', 'created', ''],
      ['Total', 'invalid', 'SUMMARY_ROW'],
    ]);
    const byInvoice = new Map(data.map((r) => [r.cells[0], r]));
    // Links are the simulator's, one per created row.
    const links = new Map(sim.ledger().map((e) => [e.invoiceNumber, e.paymentId]));
    for (const row of data.filter((r) => r.cells[6] === 'created')) expect(row.cells[7]).toBe(links.get(row.cells[0]!));
    // Amounts: numbers shown with two decimals where valid; text where not.
    expect(byInvoice.get('000123')!.kinds[2]).toBe(CellKind.number);
    expect(byInvoice.get('000123')!.shown[2]).toBe(2);
    expect(byInvoice.get('INV-0011')!.cells[2]).toBe('1234.56');
    expect(byInvoice.get('INV-0011')!.kinds[2]).toBe(CellKind.number);
    expect(byInvoice.get('INV-0003')!.cells[2]).toBe('19.999');
    expect(byInvoice.get('INV-0003')!.kinds[2]).toBe(CellKind.text);
    // Dates in other columns are ISO dates; leading zeros kept; formula-looking text stays text.
    expect(byInvoice.get('000123')!.cells[4]).toBe('2025-04-15');
    expect(byInvoice.get('000123')!.cells[5]).toBe('0042');
    expect(byInvoice.get('INV-0009')!.cells[3]).toBe('=1+1 is text, not a formula');
    expect(byInvoice.get('INV-0009')!.kinds[3]).toBe(CellKind.text);
    expect(byInvoice.get('INV-0009')!.formulas).toBeUndefined();

    const sheetXml = await unzipEntry(output, 'xl/worksheets/sheet1.xml');
    expect(sheetXml).toMatch(/<pane [^>]*ySplit="1"[^>]*state="frozen"/);
    expect((sheetXml.match(/<hyperlink /g) ?? []).length).toBe(7);
    const rels = await unzipEntry(output, 'xl/worksheets/_rels/sheet1.xml.rels');
    for (const id of links.values()) expect(rels).toContain(id);
  }, 120_000);

  it('--sheet March: title lines skipped, the filtered row and totals not sent; the CSV output has Excel row order', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const file = await fixtureCopy('workbooks/invoices.xlsx');

    const result = await run(sim, file, '--sheet', 'March');

    expect(result.code, result.stderr).toBe(1);
    expect(ledgerOf(sim).sort()).toEqual([
      ['M-001', '100'],
      ['M-003', '99.95'],
      ['M-004', '12.5'],
    ]);
    const { rows, headers } = await readOutputCsv(path.join(ws.dir, 'invoices.out.csv'));
    expect(headers.slice(0, 4)).toEqual(['Invoice #', 'Client', 'Amount Due', 'Memo']);
    expect(rows.map((r) => [r['Invoice #'], r.status, r.error_code])).toEqual([
      ['M-001', 'created', ''],
      ['M-002', 'invalid', 'ROW_HIDDEN'],
      ['M-003', 'created', ''],
      ['Invoice #', 'invalid', 'HEADER_ROW'],
      ['M-004', 'created', ''],
      ['Grand total:', 'invalid', 'SUMMARY_ROW'],
    ]);
  }, 120_000);
});

describe('paylinks run on CSV exports with traps (spawned)', () => {
  it('totals lines and split amounts create nothing; the rest once each', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const summary = await fixtureCopy('summary-rows.csv');
    const fields = await fixtureCopy('too-many-fields.csv');

    expect((await run(sim, summary)).code).toBe(1);
    expect((await run(sim, fields)).code).toBe(1);

    expect(ledgerOf(sim).sort()).toEqual(
      [
        ['S-1', '10'],
        ['S-2', '20'],
        ['TOTAL-7', '5'],
        ['B-2', '99.5'],
        ['B-3', '12'],
      ].sort(),
    );
    const summaryRows = (await readOutputCsv(path.join(ws.dir, 'summary-rows.out.csv'))).rows;
    expect(summaryRows.filter((r) => r.error_code === 'SUMMARY_ROW').map((r) => r.invoice_number)).toEqual(['Subtotal:', 'GRAND TOTAL', 'Totals', 'sum', 'Total due', 'Total']);
    checkAgainstLedger(summaryRows, { ledger: () => sim.ledger().filter((e) => summaryRows.some((r) => r.invoice_number === e.invoiceNumber)) });
    const fieldRows = (await readOutputCsv(path.join(ws.dir, 'too-many-fields.out.csv'))).rows;
    expect(fieldRows.map((r) => [r.invoice_number, r.status, r.error_code])).toEqual([
      ['B-1', 'invalid', 'TOO_MANY_FIELDS'],
      ['B-2', 'created', ''],
      ['B-3', 'created', ''],
      ['B-4', 'invalid', 'TOO_MANY_FIELDS'],
      ['B-5', 'invalid', 'INVALID_AMOUNT'],
    ]);
  }, 120_000);

  it('--decimal comma on a workbook: number cells are sent as the sheet holds them (the worker reads their stored decimals with a point)', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const file = await fixtureCopy('workbooks/invoices.xlsx');

    const result = await run(sim, file, '--decimal', 'comma');

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^Batch \S+ completed_with_errors: 12 rows \(created 6, invalid 6\)$/m);
    expect(ledgerOf(sim).sort()).toEqual(
      [
        ['000123', '89.99'],
        ['123', '1250'],
        ['INV-0004', '1339.99'],
        ['INV-0009', '45.5'],
        ['124', '75.25'],
        ['INV-0012', '0.3'],
      ].sort(),
    );
  }, 120_000);

  it('decimal marks: a comma file sends 1.234,56 as 1234.56; an unclear file sends nothing ambiguous, and --decimal point sends 1,234 as 1234', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const comma = await fixtureCopy('workbooks/decimal-comma.csv');
    const unclear = await fixtureCopy('workbooks/decimal-unclear.csv');

    expect((await run(sim, comma)).code).toBe(1);
    expect((await run(sim, unclear)).code).toBe(1);
    expect(ledgerOf(sim).sort()).toEqual(
      [
        ['DE-001', '12.5'],
        ['DE-002', '1234.56'],
        ['DE-004', '80'],
        ['UN-002', '80'],
      ].sort(),
    );
    const unclearRows = (await readOutputCsv(path.join(ws.dir, 'decimal-unclear.out.csv'))).rows;
    expect(unclearRows.map((r) => [r['Invoice No'], r.status, r.error_code])).toEqual([
      ['UN-001', 'invalid', 'AMBIGUOUS_AMOUNT'],
      ['UN-002', 'created', ''],
      ['UN-003', 'invalid', 'AMBIGUOUS_AMOUNT'],
    ]);

    const stated = await run(sim, unclear, '--decimal', 'point');
    expect(stated.code, stated.stderr).toBe(0);
    expect(sim.ledger().filter((e) => e.invoiceNumber?.startsWith('UN-')).map((e) => [e.invoiceNumber, e.amount]).sort()).toEqual([
      ['UN-001', '1234'],
      ['UN-002', '80'],
      ['UN-003', '2500'],
    ]);
  }, 180_000);
});

/** One entry of a zip, as text (read with the zip library the reader uses: no `unzip` needed). */
function unzipEntry(file: string, entry: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      zip.on('entry', (e: Entry) => {
        if (e.fileName !== entry) return zip.readEntry();
        zip.openReadStream(e, async (err, stream) => {
          if (err) return reject(err);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          zip.close();
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      zip.on('end', () => reject(new Error(`${entry} not in ${file}`)));
      zip.readEntry();
    });
  });
}
