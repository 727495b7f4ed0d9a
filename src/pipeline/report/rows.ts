/**
 * The reconciliation report's rows: every input row of a batch in file order
 * with its link and that link's payment status, or why it has none; or, once
 * the batch's rows have expired, its links from the ledger alone.
 *
 * Rows are read a chunk at a time (the next chunk read while this one is
 * handed on), their links' statuses in one pipeline per chunk: memory stays
 * bounded whatever the batch's size.
 */
import { formatCents } from '../../core/money.js';
import type { Batch, BatchStore } from '../batch-store.js';
import { unsentResult } from '../collector.js';
import type { RowResult, RowStatus } from '../output.js';
import type { PaymentStatusStore } from '../payment-status/store.js';
import type { PaymentState, PaymentStatus } from '../payment-status/model.js';
import { decodeLedgerEntry, ledgerField, writtenInvoiceNumber, type LedgerEntry } from '../ledger.js';
import { packBatchId, splitFields, unpackInt } from '../compact.js';
import { hasMailColumns, mailCellsOf, type MailCells } from '../mail-output.js';

/** Rows read from Redis per round trip. */
export const REPORT_CHUNK_ROWS = 1_000;

/** One row of the report, as the CSV, the workbook and the JSON carry it. */
export interface ReportRow {
  /** The row's line in the input file; null in a report from the ledger alone (the rows expired). */
  line: number | null;
  invoice_number: string;
  /** The invoice's amount, a decimal string (as read, for a row that is not valid). */
  amount: string;
  payment_id: string;
  payment_link: string;
  /** The link's payment status; '' for a row without a link. */
  payment_status: PaymentState | '';
  amount_paid: string;
  paid_at: string;
  /** Paywint's failure reason for the link; for a row without a link, why it has none (`CODE: message`). */
  failure_reason: string;
  /** The kinds of the exceptions naming the invoice, space-separated. */
  exception: string;
  /** The row's outcome in the batch (`created`, `exists`, `invalid`, ...). */
  output_status: RowStatus;
  /** When the link was made (ISO 8601); '' without one. */
  link_created_at: string;
  /** When the payment status was last confirmed, and how (`webhook`, `sweep`). */
  confirmed_at: string;
  confirmed_by: string;
  /** Messages to customers (issue 19; see docs/mail.md): '' for a file without an address column. */
  emailed_at: string;
  email_status: string;
  reminders_sent: string;
  last_reminder_at: string;
}

const NO_MAIL: MailCells = { emailed_at: '', email_status: '', reminders_sent: '', last_reminder_at: '' };

/** A report row and what the summary needs of it beyond its text. */
export interface RowFacts {
  row: ReportRow;
  /** The invoice's amount in cents, for a row with a link. */
  linkedCents: number | null;
  amountPaidCents: number | null;
  /** When the link was made, ms (for aging). */
  linkCreatedMs: number | null;
}

export interface RowSources {
  store: BatchStore;
  payments: PaymentStatusStore;
  /** Invoice (its ledger field: see {@link exceptionKindsOf}) → the kinds of the exceptions naming it. */
  exceptionKinds: ReadonlyMap<string, readonly string[]>;
}

/** The kinds of the exceptions naming an invoice, space-separated ('' for none). */
export function exceptionKindsOf(sources: Pick<RowSources, 'exceptionKinds'>, invoiceNumber: string): string {
  if (sources.exceptionKinds.size === 0 || invoiceNumber === '') return '';
  return (sources.exceptionKinds.get(ledgerField(invoiceNumber)) ?? []).join(' ');
}

function linkedRow(base: { line: number | null; invoiceNumber: string; outputStatus: RowStatus }, entry: LedgerEntry, payment: { status: PaymentStatus } | undefined, sources: RowSources): RowFacts {
  const status = payment?.status;
  const paidCents = status?.state === 'paid' ? (status.amountPaidCents ?? entry.amountCents) : (status?.amountPaidCents ?? null);
  return {
    row: {
      line: base.line,
      invoice_number: base.invoiceNumber,
      amount: formatCents(entry.amountCents),
      payment_id: entry.paymentId,
      payment_link: entry.paymentLink,
      payment_status: status?.state ?? 'unpaid',
      amount_paid: paidCents === null ? '' : formatCents(paidCents),
      paid_at: status?.paidAt ?? '',
      failure_reason: status?.failureReason ?? '',
      exception: exceptionKindsOf(sources, base.invoiceNumber),
      output_status: base.outputStatus,
      link_created_at: entry.createdAt,
      confirmed_at: status?.confirmedAt ?? '',
      confirmed_by: status?.confirmedBy ?? '',
      ...NO_MAIL,
    },
    linkedCents: entry.amountCents,
    amountPaidCents: paidCents,
    linkCreatedMs: Date.parse(entry.createdAt),
  };
}

/** The result of a row that has none yet (a batch still running, or stopped), as the output shows it. */
function pendingResult(batch: Batch): RowResult {
  return unsentResult(batch) ?? { status: 'failed', errorCode: 'NOT_FINISHED', errorMessage: `no result yet: the batch is ${batch.state}`, attempts: 0 };
}

/**
 * The batch's rows in file order (rows `[from, to)`), from its stored rows
 * and results (the batch's records must still be kept: see
 * BatchStore.hasRecords).
 */
export async function* rowsFromBatch(sources: RowSources, batch: Batch, from = 0, to = batch.rows): AsyncGenerator<RowFacts[]> {
  const { store, payments } = sources;
  const end = Math.min(to, batch.rows);
  const read = (start: number) => {
    const count = Math.min(REPORT_CHUNK_ROWS, end - start);
    const both = Promise.all([store.readRows(batch.id, start, count), store.readResults(batch.id, start, count)]);
    both.catch(() => {}); // awaited below
    return both;
  };
  let next = from < end ? read(from) : undefined;
  for (let start = from; next; start += REPORT_CHUNK_ROWS) {
    const [rows, results] = await next;
    next = start + REPORT_CHUNK_ROWS < end ? read(start + REPORT_CHUNK_ROWS) : undefined;
    const invoices = rows.map((r) => (r.cells[batch.layout.invoice] ?? '').trim());
    const linked = invoices.filter((inv, i) => {
      const s = results[i]?.status;
      return inv !== '' && (s === 'created' || s === 'exists');
    });
    const statuses = linked.length > 0 ? await payments.readStatuses(linked) : new Map();
    const mail = hasMailColumns(batch) ? await mailCellsOf(store, batch, rows, results) : undefined;
    const out: RowFacts[] = [];
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i]!;
      const result = results[i] ?? pendingResult(batch);
      const invoiceNumber = invoices[i]!;
      const payment = result.status === 'created' || result.status === 'exists' ? statuses.get(invoiceNumber) : undefined;
      if (payment) {
        const facts = linkedRow({ line: row.line, invoiceNumber, outputStatus: result.status }, payment.entry, payment, sources);
        if (mail) Object.assign(facts.row, mail[i]);
        out.push(facts);
        continue;
      }
      const why = result.errorCode || result.errorMessage ? `${result.errorCode ?? ''}${result.errorCode && result.errorMessage ? ': ' : ''}${result.errorMessage ?? ''}` : '';
      out.push({
        row: {
          line: row.line,
          invoice_number: invoiceNumber,
          amount: (row.cells[batch.layout.amount] ?? '').trim(),
          payment_id: result.paymentId ?? '',
          payment_link: result.paymentLink ?? '',
          payment_status: '',
          amount_paid: '',
          paid_at: '',
          // A link the ledger no longer has (removed by hand) is said so rather than shown unpaid.
          failure_reason: result.paymentId ? 'the ledger has no entry for this link: its payment status is unknown' : why,
          exception: exceptionKindsOf(sources, invoiceNumber),
          output_status: result.status,
          link_created_at: '',
          confirmed_at: '',
          confirmed_by: '',
          ...NO_MAIL,
        },
        linkedCents: null,
        amountPaidCents: null,
        linkCreatedMs: null,
      });
    }
    yield out;
  }
}

/**
 * The links a batch made, from the ledger alone, in file order (by the row
 * index each entry keeps): for a batch whose rows and results have expired.
 * Rows without a link, and rows whose link an earlier batch made (`exists`),
 * are not in the ledger under this batch, so not in this report.
 *
 * Two passes: one HSCAN of the account's ledger keeps the ledger field and
 * row index of the batch's entries, packed (the fields' bytes in one growing
 * buffer, offsets and row indexes in typed arrays: about 20 B an entry, not a
 * string object each), then the entries are read again in row order, a chunk
 * at a time, with their statuses.
 */
export async function* rowsFromLedger(sources: RowSources, batch: Batch): AsyncGenerator<RowFacts[]> {
  const fields = new PackedStrings();
  let rowIndexes = new Int32Array(1024);
  const packed = packBatchId(batch.id);
  let cursor = '0';
  do {
    const [next, flat] = await sources.payments.redis.hscan(sources.payments.ledgerKey, cursor, 'COUNT', REPORT_CHUNK_ROWS);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const raw = flat[i + 1]!;
      let row: number;
      if (raw.startsWith('{') || raw.startsWith('[')) {
        const entry = decodeLedgerEntry(raw);
        if (entry.batchId !== batch.id) continue;
        row = entry.row;
      } else {
        const parts = splitFields(raw);
        if (parts[4] !== packed) continue;
        row = unpackInt(parts[5]!);
      }
      if (fields.length === rowIndexes.length) {
        const grown = new Int32Array(rowIndexes.length * 2);
        grown.set(rowIndexes);
        rowIndexes = grown;
      }
      rowIndexes[fields.length] = row;
      fields.push(flat[i]!);
    }
  } while (cursor !== '0');
  const order = new Uint32Array(fields.length);
  for (let i = 0; i < order.length; i += 1) order[i] = i;
  order.sort((a, b) => rowIndexes[a]! - rowIndexes[b]! || fields.compare(a, b));
  let previous: string | undefined;
  for (let start = 0; start < order.length; start += REPORT_CHUNK_ROWS) {
    const part: string[] = [];
    for (const i of order.subarray(start, start + REPORT_CHUNK_ROWS)) {
      const field = fields.get(i);
      // HSCAN may return an entry twice when the hash is rehashed during the scan: once each (same row, same field: adjacent).
      if (field !== previous) part.push(field);
      previous = field;
    }
    const statuses = await sources.payments.readStatuses(part);
    const out: RowFacts[] = [];
    for (const invoiceNumber of part) {
      const payment = statuses.get(invoiceNumber);
      // Gone since the scan (an entry removed by hand): left out.
      if (!payment || payment.entry.batchId !== batch.id) continue;
      out.push(linkedRow({ line: null, invoiceNumber: writtenInvoiceNumber(invoiceNumber, payment.entry), outputStatus: 'created' }, payment.entry, payment, sources));
    }
    if (out.length > 0) yield out;
  }
}

/** Many short strings in one growing buffer (UTF-8), each found by its index. */
class PackedStrings {
  #bytes = Buffer.alloc(1 << 16);
  #used = 0;
  #ends = new Uint32Array(1024);
  length = 0;

  push(text: string): void {
    const need = Buffer.byteLength(text);
    if (this.#used + need > this.#bytes.length) {
      const grown = Buffer.alloc(Math.max(this.#bytes.length * 2, this.#used + need));
      this.#bytes.copy(grown, 0, 0, this.#used);
      this.#bytes = grown;
    }
    this.#used += this.#bytes.write(text, this.#used);
    if (this.length === this.#ends.length) {
      const grown = new Uint32Array(this.#ends.length * 2);
      grown.set(this.#ends);
      this.#ends = grown;
    }
    this.#ends[this.length] = this.#used;
    this.length += 1;
  }

  #start(i: number): number {
    return i === 0 ? 0 : this.#ends[i - 1]!;
  }

  get(i: number): string {
    return this.#bytes.toString('utf8', this.#start(i), this.#ends[i]);
  }

  compare(a: number, b: number): number {
    return this.#bytes.compare(this.#bytes, this.#start(b), this.#ends[b], this.#start(a), this.#ends[a]);
  }
}
