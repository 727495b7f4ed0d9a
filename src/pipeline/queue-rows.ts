/**
 * Queues stored rows of a batch again as `create-link` chunk jobs: what
 * `release` (a held batch's rows) and `retry` (its failed rows) share. A job
 * carries a range of rows, never their values: the worker reads the rows
 * from the batch and checks them again from their stored cells, so a job
 * always sends what the file said.
 */
import type { Queue } from 'bullmq';
import type { Batch, BatchStore } from './batch-store.js';
import { rowsJobId } from './job-ids.js';
import type { RowResult } from './output.js';
import { JOB_OPTIONS } from './queue.js';
import { chunkRowsFor } from './producer.js';
import { CREATE_LINK_JOB, type CreateLinkData } from './create-link-job.js';

/** Rows whose results are read per Redis round trip. */
const READ_ROWS = 1_000;

export interface QueueRowsOptions {
  /**
   * The rows of one page to queue, given the page's first row and its rows'
   * current results (undefined: none yet), in order. May change the rows
   * first (take their results back); resolves with the rows to queue.
   */
  pick: (start: number, results: readonly (RowResult | undefined)[]) => number[] | Promise<number[]>;
  /** Tells these jobs apart from earlier ones for the same rows (see {@link rowsJobId}). */
  tag?: string;
}

/**
 * One job per run of `rows` (sorted) within a chunk's span; the rows in
 * between, which have a result, are skipped by the worker.
 */
export function chunkJobs(batchId: string, rows: readonly number[], chunkRows: number, tag?: string) {
  const jobs = [];
  for (let i = 0; i < rows.length; ) {
    const from = rows[i]!;
    let j = i;
    while (j + 1 < rows.length && rows[j + 1]! < from + chunkRows) j += 1;
    const to = rows[j]! + 1;
    const data: CreateLinkData = { batchId, from, to };
    jobs.push({ name: CREATE_LINK_JOB, data, opts: { ...JOB_OPTIONS, jobId: rowsJobId(batchId, from, to, tag) } });
    i = j + 1;
  }
  return jobs;
}

/** Queues the picked rows of `batch` in chunk jobs; resolves with how many rows were queued. */
export async function queueStoredRows(store: BatchStore, queue: Queue, batch: Batch, options: QueueRowsOptions): Promise<number> {
  // The producer's chunk size: it depends on the batch's row count only.
  const chunkRows = chunkRowsFor(batch.rows);
  let queued = 0;
  for (let start = 0; start < batch.rows; start += READ_ROWS) {
    const count = Math.min(READ_ROWS, batch.rows - start);
    const results = await store.readResults(batch.id, start, count);
    const rows = await options.pick(start, results);
    const jobs = chunkJobs(batch.id, rows, chunkRows, options.tag);
    if (jobs.length > 0) await queue.addBulk(jobs);
    queued += rows.length;
  }
  return queued;
}
