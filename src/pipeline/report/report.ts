/**
 * The reconciliation report of a batch (issue 17, item 4): what `paylinks
 * report` and `GET /api/batches/{id}/report.{csv,xlsx,json}` give. One pass
 * over the batch's rows (rows.ts) feeds the file being written and the
 * summary (summary.ts) at once.
 *
 * Where the rows come from:
 * - while the batch's rows are kept (PAYLINKS_RETENTION_DAYS after it
 *   finished): every input row, in file order, with its link's status or
 *   why it has none (`source: "batch"`);
 * - after they expired: the links the batch made, from the ledger (which
 *   never expires), in file order by the row index each entry keeps, with no
 *   line numbers, and neither the rows without a link nor those whose link
 *   an earlier batch made (`source: "ledger"`; `summary.rows` is still the
 *   batch's row count, so `withoutLink` counts every row not listed).
 */
import { PaylinksError } from '../../core/errors.js';
import type { RedisClient } from '../../core/lua.js';
import type { Batch, BatchStore } from '../batch-store.js';
import type { Keys } from '../keys.js';
import { ledgerField } from '../ledger.js';
import { PaymentExceptions, type PaymentException } from '../payment-status/exceptions.js';
import { PaymentStatusStore } from '../payment-status/store.js';
import { rowsFromBatch, rowsFromLedger, type RowFacts, type RowSources } from './rows.js';
import { exceptionToJson, SummaryBuilder, type ReportExceptionJson, type ReportSummaryJson } from './summary.js';

export interface ReportDeps {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
}

/** Where a report's rows come from (see the module's notes). */
export type ReportSource = 'batch' | 'ledger';

/** A batch ready to be reported on. */
export interface OpenReport {
  batch: Batch;
  source: ReportSource;
  sources: RowSources;
  /** Invoice (its ledger field) → the exceptions naming it (the account's, all of them: they are few). */
  byInvoice: ReadonlyMap<string, readonly PaymentException[]>;
  /** The exceptions of the batch's links whose invoice is not known (strays likely its). */
  ofBatch: readonly PaymentException[];
  nowMs: number;
}

/** Opens a batch's report; `BATCH_NOT_FOUND` when there is no such batch. */
export async function openReport(deps: ReportDeps, batchId: string, nowMs = Date.now()): Promise<OpenReport> {
  const batch = await deps.store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  const payments = new PaymentStatusStore(deps.redis, deps.keys, batch.account);
  const all = await new PaymentExceptions(deps.redis, deps.keys, batch.account).list();
  const byInvoice = new Map<string, PaymentException[]>();
  const note = (invoice: string, e: PaymentException) => {
    const field = ledgerField(invoice);
    const list = byInvoice.get(field) ?? [];
    if (!list.includes(e)) list.push(e);
    byInvoice.set(field, list);
  };
  for (const e of all) {
    if (e.invoiceNumber !== null) note(e.invoiceNumber, e);
    else if (e.kind === 'stray' && e.likelyInvoices?.length === 1) note(e.likelyInvoices[0]!, e);
  }
  // By the invoice's key: an exception names the number as the ledger holds it, a row as its file wrote it.
  const exceptionKinds = new Map<string, string[]>();
  for (const [invoice, list] of byInvoice) {
    const key = ledgerField(invoice);
    exceptionKinds.set(key, [...new Set([...(exceptionKinds.get(key) ?? []), ...list.map((e) => e.kind)])]);
  }
  const source: ReportSource = batch.rows === 0 || (await deps.store.hasRecords(batch.id)) ? 'batch' : 'ledger';
  return {
    batch,
    source,
    sources: { store: deps.store, payments, exceptionKinds },
    byInvoice,
    ofBatch: all.filter((e) => e.batchId === batch.id),
    nowMs,
  };
}

/** What a pass over the report gives besides its rows. */
export interface ReportTotals {
  summary: ReportSummaryJson;
  /** The exceptions of the batch's rows (and strays likely its), oldest first. */
  exceptions: ReportExceptionJson[];
}

/**
 * One pass over the report's rows in order, handing each chunk to `visit`
 * (which may write it somewhere), adding up the summary as it goes.
 */
export async function passReport(report: OpenReport, visit: (chunk: RowFacts[], firstIndex: number) => Promise<void> | void = () => {}): Promise<ReportTotals> {
  const summary = new SummaryBuilder(report.nowMs);
  const found = new Map<string, PaymentException>(report.ofBatch.map((e) => [e.id, e]));
  let index = 0;
  const rows = report.source === 'batch' ? rowsFromBatch(report.sources, report.batch) : rowsFromLedger(report.sources, report.batch);
  for await (const chunk of rows) {
    for (const facts of chunk) {
      summary.add(facts);
      if (facts.row.exception !== '') for (const e of report.byInvoice.get(ledgerField(facts.row.invoice_number)) ?? []) found.set(e.id, e);
    }
    await visit(chunk, index);
    index += chunk.length;
  }
  const exceptions = [...found.values()].sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
  return {
    summary: summary.toJson(exceptions.length, report.source === 'ledger' ? report.batch.rows : undefined),
    exceptions: exceptions.map(exceptionToJson),
  };
}
