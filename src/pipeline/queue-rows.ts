/**
 * Queues stored rows of a batch as `create-link` jobs: what `release` (a held
 * batch's rows) and `retry` (its failed rows) share. Each row is checked again
 * from its stored cells, so a job always carries what the file said.
 */
import type { Queue } from 'bullmq';
import { rowJobId, type Batch, type BatchStore } from './batch-store.js';
import { checkRecord } from '../intake/row-checks.js';
import type { RowResult } from './output.js';
import { JOB_OPTIONS } from './queue.js';
import { CREATE_LINK_JOB, type CreateLinkData } from '../../jobs/create-link.js';

/** Rows read per Redis round trip. */
const CHUNK_ROWS = 500;

export interface QueueRowsOptions {
  /** Whether a row, by its current result (undefined: none yet), is to be queued. */
  wants: (result: RowResult | undefined) => boolean;
  /** Last step before a wanted row is queued; resolve false to leave the row as it is. */
  prepare?: (row: number) => Promise<boolean>;
}

/** Queues the wanted rows of `batch`; resolves with how many were queued. */
export async function queueStoredRows(store: BatchStore, queue: Queue, batch: Batch, options: QueueRowsOptions): Promise<number> {
  let queued = 0;
  for (let start = 0; start < batch.rows; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, batch.rows - start);
    const [rows, results] = await Promise.all([store.readRows(batch.id, start, count), store.readResults(batch.id, start, count)]);
    const jobs = [];
    for (let i = 0; i < rows.length; i += 1) {
      if (!options.wants(results[i])) continue;
      const row = start + i;
      const layout = { ...batch.layout, encoding: 'utf-8' as const };
      let record = checkRecord({ line: rows[i]!.line, cells: rows[i]!.cells }, row, layout);
      // A workbook's number cells are stored as plain decimals (89.99), whatever its text amounts decided.
      if (record.status !== 'valid' && layout.format === 'workbook') record = checkRecord({ line: rows[i]!.line, cells: rows[i]!.cells }, row, { ...layout, decimal: 'point' });
      if (record.status !== 'valid') continue; // cannot happen for a row stored as valid; never guess
      if (options.prepare && !(await options.prepare(row))) continue;
      const data: CreateLinkData = { batchId: batch.id, row, line: record.line, invoiceNumber: record.invoiceNumber, amountCents: record.amountCents, description: record.description };
      jobs.push({ name: CREATE_LINK_JOB, data, opts: { ...JOB_OPTIONS, jobId: rowJobId(batch.id, row) } });
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
    queued += jobs.length;
  }
  return queued;
}
