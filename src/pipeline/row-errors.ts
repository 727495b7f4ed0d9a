/**
 * A batch's row errors, a page at a time: every row whose result carries an
 * error code (invalid, duplicate, conflict, failed, and created rows flagged
 * `POSSIBLE_DUPLICATE_LINK`), in file order, with the line a person can fix.
 * A stopped batch's rows it never sent have no result of their own: they are
 * listed as the output shows them (its state accounts for them).
 */
import type { BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { expiredError, unsentResult } from './collector.js';
import type { RowStatus } from './output.js';

/** Rows read per Redis round trip. */
const CHUNK_ROWS = 1_000;

export interface RowErrorsPageOptions {
  /** First row (0-based data row index) to look at: `next` of the previous page. Default 0. */
  from?: number;
  /** Errors per page, 1 to 1000. Default 100. */
  limit?: number;
}

export interface RowErrorJson {
  line: number;
  invoice_number: string;
  status: RowStatus;
  code: string;
  message: string;
}

export interface RowErrorsPage {
  batch_id: string;
  errors: RowErrorJson[];
  /** `from` of the next page; null when this page reaches the end. */
  next: number | null;
}

export async function readRowErrors(store: BatchStore, batchId: string, options: RowErrorsPageOptions = {}): Promise<RowErrorsPage> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.rows > 0 && !(await store.hasRecords(batchId))) throw expiredError(batchId, batch.expiresAt ?? null);
  const unsent = unsentResult(batch);
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
  const errors: RowErrorJson[] = [];
  let row = Math.max(options.from ?? 0, 0);
  while (row < batch.rows && errors.length < limit) {
    const count = Math.min(CHUNK_ROWS, batch.rows - row);
    const [rows, results] = await Promise.all([store.readRows(batchId, row, count), store.readResults(batchId, row, count)]);
    let i = 0;
    for (; i < rows.length && errors.length < limit; i += 1) {
      const result = results[i] ?? unsent;
      if (!result?.errorCode) continue;
      const stored = rows[i]!;
      errors.push({
        line: stored.line,
        invoice_number: (stored.cells[batch.layout.invoice] ?? '').trim(),
        status: result.status,
        code: result.errorCode,
        message: result.errorMessage ?? '',
      });
    }
    row += i;
    if (rows.length === 0) break;
  }
  return { batch_id: batchId, errors, next: row < batch.rows ? row : null };
}
