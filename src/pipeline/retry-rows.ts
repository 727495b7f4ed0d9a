/**
 * `paylinks retry`: queues a batch's failed rows again. Only `failed` rows:
 * invalid, duplicate and conflicting rows need a corrected file, not a retry.
 * The ledger still guards every invoice, so a row whose link was made after
 * all (an unknown outcome) is never sent twice by paylinks.
 */
import type { Queue } from 'bullmq';
import { rowJobId, type BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { checkRecord } from '../intake/row-checks.js';
import { JOB_OPTIONS } from './queue.js';
import { CREATE_LINK_JOB, type CreateLinkData } from '../../jobs/create-link.js';

const CHUNK_ROWS = 500;

export interface RetryResult {
  batchId: string;
  requeued: number;
}

export async function retryFailedRows(store: BatchStore, queue: Queue, batchId: string): Promise<RetryResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.state === 'cancelled') throw new PaylinksError('BATCH_CANCELLED', `batch ${batchId} was cancelled: submit the file again instead`);

  let requeued = 0;
  for (let start = 0; start < batch.rows; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, batch.rows - start);
    const [rows, results] = await Promise.all([store.readRows(batchId, start, count), store.readResults(batchId, start, count)]);
    const jobs = [];
    for (let i = 0; i < count; i += 1) {
      if (results[i]?.status !== 'failed') continue;
      const row = start + i;
      const record = checkRecord({ line: rows[i]!.line, cells: rows[i]!.cells }, row, { ...batch.layout, encoding: 'utf-8' }, new Map());
      if (record.status !== 'valid') continue; // cannot happen for a row that was sent; never guess
      // A job BullMQ gave up on is kept under the row's id: make room for the new one. A job that cannot be
      // removed is still active (it has just recorded the row): the row is left as it is, for a later retry.
      const jobId = rowJobId(batchId, row);
      if ((await queue.remove(jobId)) === 0 && (await queue.getJob(jobId))) continue;
      if (!(await store.reopenRow(batchId, row))) continue;
      const data: CreateLinkData = { batchId, row, line: record.line, invoiceNumber: record.invoiceNumber, amountCents: record.amountCents, description: record.description };
      jobs.push({ name: CREATE_LINK_JOB, data, opts: { ...JOB_OPTIONS, jobId: rowJobId(batchId, row) } });
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
    requeued += jobs.length;
  }
  return { batchId, requeued };
}
