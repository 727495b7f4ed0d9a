/**
 * The ledger as a record: `paylinks ledger export` writes an account's
 * ledger as CSV (for audit and backup); `paylinks ledger import` loads links
 * made before paylinks, or by another tool, so that their invoices are
 * reported `exists` and never linked twice.
 *
 * Decisions a user can see:
 * - One CSV shape both ways: `invoice_number, amount, description,
 *   payment_id, payment_link, created_at, batch` (an export adds each link's
 *   payment status after them: `payment_status, amount_paid, paid_at,
 *   failure_reason, confirmed_at, confirmed_by`; an import ignores those), written with the output
 *   file's conventions (BOM, CRLF, formula neutralisation), so an export
 *   imports back unchanged (a neutralised cell loses its apostrophe again).
 * - Export streams the hash (HSCAN), in no particular order; `since` keeps
 *   entries created at or after that instant.
 * - Import reads the file as `run` does (encodings, delimiters, line
 *   numbers) and checks each row by the same rules, plus a UUID payment id,
 *   an https link and an ISO 8601 `created_at` (optional: default the time of
 *   the import). `batch` is optional (default `import-` and the start of the
 *   file's SHA-256).
 * - Nothing half-imported: the whole file is checked first, against the
 *   ledger too. An invoice already in the ledger with another payment id,
 *   link, amount or description is a conflict (LEDGER_CONFLICT), one a batch
 *   is sending a request for is INVOICE_IN_PROGRESS; with any bad row,
 *   nothing is written. Then the entries are written in chunks, each chunk
 *   one script with HSETNX semantics: an entry already there unchanged is
 *   fine (an import run again changes nothing). A link a running batch made
 *   for one of the invoices between the check and the write is never
 *   overwritten: that row is reported, the rest is written.
 * - Entries are read and written only through ledger.ts's
 *   `encodeLedgerEntry`, `decodeLedgerEntry` and `scanLedger`, under the
 *   invoice's `ledgerField` (its key: `inv-7` is `INV-7`'s entry), the
 *   number as written kept in the entry and exported.
 */
import type { Writable } from 'node:stream';
import { InputFileError, type ErrorCode } from '../core/errors.js';
import { LuaScript, type RedisClient } from '../core/lua.js';
import { normaliseHeader } from '../intake/columns.js';
import { checkRecord } from '../intake/row-checks.js';
import { openInvoiceFile, type ColumnLayout, type IntakeRecord } from '../intake/invoice-file.js';
import { formatCents } from '../core/money.js';
import { MAX_LISTED_ERRORS } from '../intake/validate.js';
import { CreatedLinkData } from '../paywint/client.js';
import type { Keys } from './keys.js';
import { decodeLedgerEntry, encodeLedgerEntry, ledgerField, sameInvoice, scanLedger, type LedgerEntry } from './ledger.js';
import { CsvFileWriter, restoreNeutralisedCell } from './output.js';
import { PaymentStatusStore } from './payment-status/store.js';

/** The columns of an exported ledger, and of a file to import (the last two optional there). */
export const LEDGER_COLUMNS = ['invoice_number', 'amount', 'description', 'payment_id', 'payment_link', 'created_at', 'batch'] as const;

/** The payment status columns an export adds after {@link LEDGER_COLUMNS} (an import ignores them). */
export const LEDGER_STATUS_COLUMNS = ['payment_status', 'amount_paid', 'paid_at', 'failure_reason', 'confirmed_at', 'confirmed_by'] as const;

/** The longest `batch` cell an import takes, in characters. */
export const MAX_BATCH_LENGTH = 64;

/** Header names recognised in a file to import, besides the invoice, amount and description (found as `run` finds them). */
const IMPORT_COLUMN_ALIASES = {
  paymentId: ['payment_id', 'payment id'],
  paymentLink: ['payment_link', 'payment link', 'link', 'url'],
  createdAt: ['created_at', 'created', 'date'],
  batch: ['batch', 'batch_id'],
} as const;

/** Where an account's ledger lives. */
export interface LedgerLocation {
  redis: RedisClient;
  keys: Keys;
  /** The Paywint account (its API key): the ledger belongs to it. */
  account: string;
}

/**
 * An ISO 8601 date (`2026-11-01`, midnight UTC) or timestamp with a zone
 * (`2026-11-01T09:30:00Z`, `2026-11-01T09:30:00+01:00`), in ms since the
 * epoch; undefined for anything else, impossible dates (`2026-02-30`) included.
 */
export function parseIsoInstant(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/.exec(text.trim());
  if (!m) return undefined;
  const day = m[1]!;
  if (Number.isNaN(Date.parse(`${day}T00:00:00Z`)) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) return undefined;
  const ms = Date.parse(text.trim().length === 10 ? `${day}T00:00:00Z` : text.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

export interface ExportLedgerOptions extends LedgerLocation {
  /** A file (written beside as `*.partial`, renamed into place when complete) or a stream (stdout), left open. */
  output: string | Writable;
  /** Only entries created at or after this instant. Default: every entry. */
  since?: Date;
  /** Entries asked for per HSCAN call. Default 1000. */
  scanCount?: number;
}

export interface ExportResult {
  /** Entries written. */
  entries: number;
  /** Entries in the ledger (those before `since` included). */
  scanned: number;
}

/** Writes the account's ledger as CSV ({@link LEDGER_COLUMNS}), streamed. */
export async function exportLedger(options: ExportLedgerOptions): Promise<ExportResult> {
  const sinceMs = options.since?.getTime();
  const writer = new CsvFileWriter(options.output, [...LEDGER_COLUMNS, ...LEDGER_STATUS_COLUMNS]);
  const statuses = new PaymentStatusStore(options.redis, options.keys, options.account);
  // HSCAN may return an entry twice when the hash is rehashed during the scan: keep the fields seen.
  const seen = new Set<string>();
  try {
    for await (const page of scanLedger(options.redis, options.keys.ledger(options.account), options.scanCount ?? 1000)) {
      const fresh = page.filter(({ field, entry }) => {
        if (seen.has(field)) return false;
        seen.add(field);
        return sinceMs === undefined || Date.parse(entry.createdAt) >= sinceMs;
      });
      // The statuses of a page in one pipeline.
      for (const { invoiceNumber, entry, status } of await statuses.withStatuses(fresh)) {
        const paid = status.state === 'paid' ? (status.amountPaidCents ?? entry.amountCents) : status.amountPaidCents;
        await writer.write([
          invoiceNumber,
          formatCents(entry.amountCents),
          entry.description ?? '',
          entry.paymentId,
          entry.paymentLink,
          entry.createdAt,
          entry.batchId,
          status.state,
          paid === null ? '' : formatCents(paid),
          status.paidAt ?? '',
          status.failureReason ?? '',
          status.confirmedAt ?? '',
          status.confirmedBy ?? '',
        ]);
      }
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { entries: writer.rowCount, scanned: seen.size };
}

export interface ImportLedgerOptions extends LedgerLocation {
  /** The CSV file to import. */
  file: string;
  /** Field delimiter. Default: detected from the header line. */
  delimiter?: string;
  /** Rows checked against the ledger, and written, per round trip. Default 500. */
  chunkRows?: number;
  /** The `created_at` of rows without one. Default: now. */
  now?: Date;
}

/** A row that was not imported. */
export interface ImportProblem {
  /** Line of the file where the row starts (the header is line 1). */
  line: number;
  /** Trimmed; empty when the row has none. */
  invoiceNumber: string;
  code: ErrorCode;
  message: string;
}

export interface ImportReport {
  file: string;
  /** Data records in the file. */
  rows: number;
  /** Entries this import wrote. */
  imported: number;
  /** Rows whose entry was in the ledger already, the same (an import run again). */
  unchanged: number;
  /** Every row not imported, in file order. When found before writing (the usual case), nothing was imported. */
  problems: ImportProblem[];
}

interface ImportColumns {
  paymentId: number;
  paymentLink: number;
  createdAt: number | null;
  batch: number | null;
}

interface ImportRow {
  line: number;
  invoiceNumber: string;
  entry: LedgerEntry;
}

type CheckedRow = { ok: true; row: ImportRow } | { ok: false; problem: ImportProblem };

function findImportColumns(file: string, headers: readonly string[]): ImportColumns {
  const normalised = headers.map(normaliseHeader);
  const find = (names: readonly string[]) => {
    for (const name of names) {
      const at = normalised.indexOf(normaliseHeader(name));
      if (at >= 0) return at;
    }
    return null;
  };
  const required = (names: readonly string[], label: string) => {
    const at = find(names);
    if (at === null) throw new InputFileError('FILE_MISSING_COLUMN', file, `no ${label} column: name one ${names.map((n) => JSON.stringify(n)).join(' or ')} (the header has ${headers.map((h) => JSON.stringify(h)).join(', ')})`, 1);
    return at;
  };
  return {
    paymentId: required(IMPORT_COLUMN_ALIASES.paymentId, 'payment id'),
    paymentLink: required(IMPORT_COLUMN_ALIASES.paymentLink, 'payment link'),
    createdAt: find(IMPORT_COLUMN_ALIASES.createdAt),
    batch: find(IMPORT_COLUMN_ALIASES.batch),
  };
}

/**
 * The intake's verdict on a row, for cells a paylinks export neutralised
 * (`'=A1`): checked again without the apostrophe, so a length limit is not
 * missed by one. A duplicate stays one (the intake tracks invoice numbers).
 */
function restoredRecord(record: IntakeRecord, layout: ColumnLayout): IntakeRecord {
  const columns = [layout.invoice, ...(layout.description === null ? [] : [layout.description])];
  if (record.status === 'duplicate' || columns.every((c) => restoreNeutralisedCell(record.cells[c] ?? '') === record.cells[c])) return record;
  const cells = record.cells.map((cell, i) => (columns.includes(i) ? restoreNeutralisedCell(cell) : cell));
  return checkRecord({ line: record.line, cells }, record.index, layout);
}

function checkImportRow(record: IntakeRecord, layout: ColumnLayout, columns: ImportColumns, createdAtDefault: string, batchDefault: string): CheckedRow {
  const checked = restoredRecord(record, layout);
  const { line, invoiceNumber } = checked;
  const bad = (code: ErrorCode, message: string): CheckedRow => ({ ok: false, problem: { line, invoiceNumber, code, message } });
  if (checked.status !== 'valid') return bad(checked.code, checked.message.replace(/; this row will not be sent$/, ': each invoice has one link'));

  const cell = (at: number | null) => (at === null ? '' : (record.cells[at] ?? '').trim());
  const paymentId = cell(columns.paymentId);
  if (paymentId === '') return bad('MISSING_PAYMENT_ID', 'the payment id is empty');
  if (!CreatedLinkData.shape.payment_id.safeParse(paymentId).success) return bad('INVALID_PAYMENT_ID', `"${paymentId}" is not a payment id (a UUID, as Paywint gives)`);
  const paymentLink = cell(columns.paymentLink);
  if (paymentLink === '') return bad('MISSING_PAYMENT_LINK', 'the payment link is empty');
  if (!CreatedLinkData.shape.payment_link.safeParse(paymentLink).success) return bad('INVALID_PAYMENT_LINK', `"${paymentLink}" is not a payment link (an https URL, as Paywint gives)`);
  const createdText = cell(columns.createdAt);
  const createdMs = createdText === '' ? undefined : parseIsoInstant(createdText);
  if (createdText !== '' && createdMs === undefined) return bad('INVALID_CREATED_AT', `"${createdText}" is not an ISO 8601 date or time (2026-11-01 or 2026-11-01T09:30:00Z)`);
  const batch = cell(columns.batch);
  if ([...batch].length > MAX_BATCH_LENGTH) return bad('BATCH_TOO_LONG', `the batch is ${[...batch].length} characters long; at most ${MAX_BATCH_LENGTH}`);

  const entry: LedgerEntry = {
    paymentId,
    paymentLink,
    amountCents: checked.amountCents,
    description: checked.description,
    batchId: batch === '' ? batchDefault : batch,
    // Not from a batch row.
    row: 0,
    createdAt: createdMs === undefined ? createdAtDefault : new Date(createdMs).toISOString(),
    invoiceNumber,
  };
  return { ok: true, row: { line, invoiceNumber, entry } };
}

/** Whether the ledger's entry is the row's: same payment id, link, amount and description. */
function sameEntry(existing: LedgerEntry, entry: LedgerEntry): boolean {
  return existing.paymentId === entry.paymentId && existing.paymentLink === entry.paymentLink && sameInvoice(existing, entry.amountCents, entry.description);
}

function describeEntry(e: LedgerEntry): string {
  return `${e.paymentId} (${e.paymentLink}) for ${formatCents(e.amountCents)}${e.description ? ` ("${e.description}")` : ''}`;
}

/** What the ledger holds for a row: nothing (`new`), the same entry, another one, or a claim of a running batch. */
function verdict(row: ImportRow, existing: string | null, claimed: boolean): 'new' | 'same' | ImportProblem {
  const { line, invoiceNumber } = row;
  if (claimed) {
    return { line, invoiceNumber, code: 'INVOICE_IN_PROGRESS', message: `a batch is sending a request for invoice ${invoiceNumber} right now: import this file again once it has finished` };
  }
  if (existing === null) return 'new';
  const entry = decodeLedgerEntry(existing);
  if (sameEntry(entry, row.entry)) return 'same';
  return { line, invoiceNumber, code: 'LEDGER_CONFLICT', message: `invoice ${invoiceNumber} already has link ${describeEntry(entry)} in the ledger (batch ${entry.batchId}); this row says ${describeEntry(row.entry)}. Not imported` };
}

// KEYS: ledger, claims. ARGV: invoice, entry, invoice, entry, ... For each pair, in one step: a claimed invoice is left
// alone ('claimed'), an absent one written ('written'), an existing one returned for the caller to compare ('exists').
const WRITE_ENTRIES = new LuaScript(`
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    out[#out + 1] = 'claimed'
    out[#out + 1] = ''
  elseif redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    out[#out + 1] = 'written'
    out[#out + 1] = ''
  else
    out[#out + 1] = 'exists'
    out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
return out
`);

/**
 * Loads a CSV of links into the account's ledger (see the module's notes).
 * Throws {@link InputFileError} when the file as a whole cannot be used
 * (then nothing is written).
 */
export async function importLedger(options: ImportLedgerOptions): Promise<ImportReport> {
  const { redis, keys, account, file } = options;
  const ledgerKey = keys.ledger(account);
  const claimsKey = keys.claims(account);
  const chunkRows = options.chunkRows ?? 500;
  const createdAtDefault = (options.now ?? new Date()).toISOString();
  const invoices = await openInvoiceFile(file, { delimiter: options.delimiter });
  const { layout } = invoices;
  const columns = findImportColumns(file, layout.headers);

  // Pass 1: every row by the file's rules and against the ledger as it stands; nothing written.
  const problems: ImportProblem[] = [];
  let rows = 0;
  let chunk: ImportRow[] = [];
  const checkChunk = async () => {
    if (chunk.length === 0) return;
    const fields = chunk.map((r) => ledgerField(r.invoiceNumber));
    const replies = await redis.multi().hmget(ledgerKey, ...fields).hmget(claimsKey, ...fields).exec();
    const [existing, claims] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value as (string | null)[];
    });
    chunk.forEach((row, i) => {
      const v = verdict(row, existing?.[i] ?? null, (claims?.[i] ?? null) !== null);
      if (typeof v === 'object') problems.push(v);
    });
    chunk = [];
  };
  for await (const record of invoices.records) {
    rows += 1;
    const checked = checkImportRow(record, layout, columns, createdAtDefault, '');
    if (!checked.ok) problems.push(checked.problem);
    else if (chunk.push(checked.row) >= chunkRows) await checkChunk();
  }
  await checkChunk();
  if (rows === 0) throw new InputFileError('FILE_NO_ROWS', file, 'the file has a header line but no rows below it');
  problems.sort((a, b) => a.line - b.line);
  if (problems.length > 0) return { file, rows, imported: 0, unchanged: 0, problems };

  // Pass 2: the same rows again, written a chunk per script (and indexed for payment statuses right after).
  const paymentIndex = new PaymentStatusStore(redis, keys, account);
  const batchDefault = `import-${invoices.sha256().slice(0, 12)}`;
  let imported = 0;
  let unchanged = 0;
  const writeChunk = async () => {
    if (chunk.length === 0) return;
    const reply = (await WRITE_ENTRIES.run(redis, [ledgerKey, claimsKey], chunk.flatMap((r) => [ledgerField(r.invoiceNumber), encodeLedgerEntry(r.entry)]))) as string[];
    await paymentIndex.indexNewEntries(chunk.flatMap((r, i) => (reply[2 * i] === 'written' ? [{ invoiceNumber: ledgerField(r.invoiceNumber), paymentId: r.entry.paymentId }] : [])));
    chunk.forEach((row, i) => {
      const kind = reply[2 * i];
      if (kind === 'written') {
        imported += 1;
        return;
      }
      const v = verdict(row, kind === 'exists' ? (reply[2 * i + 1] ?? null) : null, kind === 'claimed');
      if (v === 'same') unchanged += 1;
      else if (typeof v === 'object') problems.push(v);
    });
    chunk = [];
  };
  for await (const record of invoices.records) {
    const checked = checkImportRow(record, layout, columns, createdAtDefault, batchDefault);
    if (!checked.ok) {
      await writeChunk();
      throw new InputFileError('FILE_MALFORMED', file, `the file changed while it was being imported (this row passed the check before): ${checked.problem.code}: ${checked.problem.message}. Fix it and import the file again (entries already written are recognised)`, checked.problem.line);
    }
    if (chunk.push(checked.row) >= chunkRows) await writeChunk();
  }
  await writeChunk();
  return { file, rows, imported, unchanged, problems };
}

/** The `ledger import --json` object: `{rows, imported, unchanged, problems: [{line, invoice_number, code, message}]}`. */
export function importReportToJson(report: ImportReport): object {
  return {
    rows: report.rows,
    imported: report.imported,
    unchanged: report.unchanged,
    problems: report.problems.map((p) => ({ line: p.line, invoice_number: p.invoiceNumber, code: p.code, message: p.message })),
  };
}

/** The import's outcome for a person: what was imported, or each row that was not (by line). */
export function formatImportReport(report: ImportReport): string {
  const lines: string[] = [];
  const entries = (n: number) => `${n} ${n === 1 ? 'entry' : 'entries'}`;
  if (report.problems.length === 0) {
    lines.push(`Imported ${entries(report.imported)} from ${report.file} into the ledger${report.unchanged > 0 ? ` (${entries(report.unchanged)} already there, unchanged)` : ''}.`);
    return lines.join('\n');
  }
  const n = report.problems.length;
  lines.push(
    report.imported + report.unchanged === 0
      ? `${n} of ${report.rows} ${report.rows === 1 ? 'row' : 'rows'} cannot be imported; nothing was imported:`
      : `${n} of ${report.rows} ${report.rows === 1 ? 'row' : 'rows'} changed in the ledger while being imported and were not; the other ${entries(report.imported)} were imported (${report.unchanged} already there):`,
  );
  for (const p of report.problems.slice(0, MAX_LISTED_ERRORS)) {
    lines.push(`  line ${p.line}: ${p.invoiceNumber === '' ? '(no invoice number)' : p.invoiceNumber} — ${p.code}: ${p.message}`);
  }
  if (n > MAX_LISTED_ERRORS) lines.push(`  … and ${n - MAX_LISTED_ERRORS} more (use --json)`);
  return lines.join('\n');
}
