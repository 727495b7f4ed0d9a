/**
 * What a file's valid rows would meet in the ledger, before anything is
 * sent: how many invoices are new (a link would be made), how many already
 * have a link for the same amount (`exists`: nothing is sent), and how many
 * have a link for another amount or description (`conflict`: nothing is
 * sent, the row needs a person). The page's preview and the API's dry run
 * show it, so a person is never promised links that will not be made.
 *
 * A read only: HMGET on the account's ledger hash, a chunk of invoices per
 * round trip, whatever the file's size. The counts are a forecast: another
 * batch may create links between this look and the release.
 */
import { z } from 'zod';
import type { RedisClient } from '../core/lua.js';
import { openInvoiceFile, type IntakeOptions } from '../intake/invoice-file.js';
import { formatCents } from '../core/money.js';
import { checkRecord } from '../intake/row-checks.js';
import type { Batch, BatchStore } from './batch-store.js';
import { decodeLedgerEntry, ledgerField, sameInvoice } from './ledger.js';

/** Invoices looked up per HMGET. */
export const LOOKUP_CHUNK = 1_000;

/** A valid row, as the ledger is asked about it. */
export interface LookupRow {
  invoiceNumber: string;
  amountCents: number;
  description: string | null;
}

export interface LedgerPreview {
  /** Valid rows whose invoice has no link yet: each would get one. */
  newRows: number;
  newCents: number;
  /** Valid rows whose invoice has a link for the same amount and description already: reported `exists`, nothing sent. */
  linkedRows: number;
  linkedCents: number;
  /** Valid rows whose invoice has a link for another amount or description: reported `conflict`, nothing sent. */
  conflictRows: number;
  conflictCents: number;
}

/** The ledger field of a row's invoice: its key, as the worker claims it (ledger.ts). */
function fieldOf(row: LookupRow): string {
  return ledgerField(row.invoiceNumber);
}

/** Counts `rows` (in chunks of any size) against the ledger hash `ledgerKey`. */
export async function countAgainstLedger(redis: RedisClient, ledgerKey: string, rows: AsyncIterable<readonly LookupRow[]>): Promise<LedgerPreview> {
  const preview: LedgerPreview = { newRows: 0, newCents: 0, linkedRows: 0, linkedCents: 0, conflictRows: 0, conflictCents: 0 };
  let pending: LookupRow[] = [];
  const look = async () => {
    const chunk = pending;
    pending = [];
    if (chunk.length === 0) return;
    const entries = await redis.hmget(ledgerKey, ...chunk.map(fieldOf));
    chunk.forEach((row, i) => {
      const raw = entries[i];
      if (raw === null || raw === undefined) {
        preview.newRows += 1;
        preview.newCents += row.amountCents;
      } else if (sameInvoice(decodeLedgerEntry(raw), row.amountCents, row.description)) {
        preview.linkedRows += 1;
        preview.linkedCents += row.amountCents;
      } else {
        preview.conflictRows += 1;
        preview.conflictCents += row.amountCents;
      }
    });
  };
  for await (const chunk of rows) {
    for (const row of chunk) {
      pending.push(row);
      if (pending.length >= LOOKUP_CHUNK) await look();
    }
  }
  await look();
  return preview;
}

/** The valid rows of a file, read as the producer reads them (a second pass after its check). */
async function* validRowsOfFile(file: string, intake: IntakeOptions): AsyncGenerator<LookupRow[]> {
  const input = await openInvoiceFile(file, intake);
  let chunk: LookupRow[] = [];
  for await (const record of input.records) {
    if (record.status !== 'valid') continue;
    chunk.push({ invoiceNumber: record.invoiceNumber, amountCents: record.amountCents, description: record.description });
    if (chunk.length >= LOOKUP_CHUNK) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** A file's valid rows against the ledger (for a dry run: nothing is stored). */
export function previewFileAgainstLedger(file: string, intake: IntakeOptions, redis: RedisClient, ledgerKey: string): Promise<LedgerPreview> {
  return countAgainstLedger(redis, ledgerKey, validRowsOfFile(file, intake));
}

/**
 * The rows of a stored batch still to send (no result yet), read back as the
 * worker reads them: its stored cells checked again with the batch's layout.
 */
async function* unsentRowsOfBatch(store: BatchStore, batch: Batch): AsyncGenerator<LookupRow[]> {
  for (let start = 0; start < batch.rows; start += LOOKUP_CHUNK) {
    const count = Math.min(LOOKUP_CHUNK, batch.rows - start);
    const [records, results] = await Promise.all([store.readRows(batch.id, start, count), store.readResults(batch.id, start, count)]);
    const chunk: LookupRow[] = [];
    records.forEach((r, i) => {
      if (results[i] !== undefined) return;
      const layout = { ...batch.layout, encoding: 'utf-8' as const };
      let record = checkRecord({ line: r.line, cells: r.cells }, start + i, layout);
      // A workbook's number cells are stored as plain decimals (89.99), whatever its text amounts decided (as the worker reads them).
      if (record.status !== 'valid' && layout.format === 'workbook') record = checkRecord({ line: r.line, cells: r.cells }, start + i, { ...layout, decimal: 'point' });
      if (record.status === 'valid') chunk.push({ invoiceNumber: record.invoiceNumber, amountCents: record.amountCents, description: record.description });
    });
    yield chunk;
    if (records.length === 0) break;
  }
}

/** A stored batch's rows still to send against the ledger (for a held batch's preview). */
export function previewBatchAgainstLedger(store: BatchStore, batch: Batch, redis: RedisClient, ledgerKey: string): Promise<LedgerPreview> {
  return countAgainstLedger(redis, ledgerKey, unsentRowsOfBatch(store, batch));
}

/** The `ledger` object of the API's answers. */
export const LedgerPreviewJsonSchema = z
  .object({
    new: z.number().int().describe('valid rows whose invoice has no link yet: each gets one'),
    new_amount: z.string().describe('their total, a decimal string'),
    linked: z.number().int().describe('valid rows whose invoice already has a link for the same amount: nothing is sent for them'),
    linked_amount: z.string().describe('their total, a decimal string'),
    conflicts: z.number().int().describe('valid rows whose invoice already has a link for another amount or description: nothing is sent, the row is reported LEDGER_CONFLICT'),
    conflicts_amount: z.string().describe('their total, a decimal string'),
  })
  .describe("the valid rows against the account's ledger, looked up now (a forecast: another batch may create links before this one runs)");
export type LedgerPreviewJson = z.infer<typeof LedgerPreviewJsonSchema>;

export function ledgerPreviewToJson(p: LedgerPreview): LedgerPreviewJson {
  return {
    new: p.newRows,
    new_amount: formatCents(p.newCents),
    linked: p.linkedRows,
    linked_amount: formatCents(p.linkedCents),
    conflicts: p.conflictRows,
    conflicts_amount: formatCents(p.conflictCents),
  };
}
