/**
 * `paylinks retry`: queues a batch's failed rows again. Only `failed` rows
 * (and, in a batch that was stopped, the rows it never sent):
 * invalid, duplicate and conflicting rows need a corrected file, not a retry.
 * The ledger still guards every invoice, so a row whose link was made after
 * all (an unknown outcome) is never sent twice by paylinks.
 */
import type { Queue } from 'bullmq';
import { rowsJobId, type BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { JOB_OPTIONS } from './queue.js';
import { CREATE_LINK_JOB, type CreateLinkData } from '../../jobs/create-link.js';
import { chunkRowsFor } from './producer.js';
import { expiredError } from './collector.js';

/** Rows read per Redis round trip. */
const READ_ROWS = 1_000;

export interface RetryResult {
  batchId: string;
  requeued: number;
}

export async function retryFailedRows(store: BatchStore, queue: Queue, batchId: string): Promise<RetryResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.state === 'cancelled') throw new PaylinksError('BATCH_CANCELLED', `batch ${batchId} was cancelled: submit the file again instead`);
  if (batch.rows > 0 && !(await store.hasRecords(batchId))) throw expiredError(batch.id, batch.expiresAt ?? null);

  // A stopped batch runs again first, so that its rows without a result are sent by the jobs below.
  const stopped = batch.state === 'failed' && batch.submittedAt !== null;
  if (stopped) await store.reopenRows(batchId, [], true);
  const chunkRows = chunkRowsFor(batch.rows);
  const tag = `g${Date.now().toString(36)}`;
  let requeued = 0;
  for (let start = 0; start < batch.rows; start += READ_ROWS) {
    const count = Math.min(READ_ROWS, batch.rows - start);
    const results = await store.readResults(batchId, start, count);
    const failedRows: number[] = [];
    const unsent: number[] = [];
    results.forEach((r, i) => {
      if (r?.status === 'failed') failedRows.push(start + i);
      else if (r === undefined && stopped) unsent.push(start + i);
    });
    const reopened = failedRows.length > 0 ? await store.reopenRows(batchId, failedRows) : [];
    const rows = [...reopened, ...unsent].sort((a, b) => a - b);
    // One job per run of rows within a chunk's span; the rows between (with a result) are skipped by the worker.
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
    if (jobs.length > 0) await queue.addBulk(jobs);
    requeued += rows.length;
  }
  return { batchId, requeued };
}
