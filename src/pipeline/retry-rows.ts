/**
 * `paylinks retry`: queues a batch's failed rows again. Only `failed` rows:
 * invalid, duplicate and conflicting rows need a corrected file, not a retry.
 * The ledger still guards every invoice, so a row whose link was made after
 * all (an unknown outcome) is never sent twice by paylinks.
 */
import type { Queue } from 'bullmq';
import { rowJobId, type BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { queueStoredRows } from './queue-rows.js';

export interface RetryResult {
  batchId: string;
  requeued: number;
}

export async function retryFailedRows(store: BatchStore, queue: Queue, batchId: string): Promise<RetryResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.state === 'cancelled') throw new PaylinksError('BATCH_CANCELLED', `batch ${batchId} was cancelled: submit the file again instead`);
  if (batch.state === 'held') throw new PaylinksError('BATCH_NOT_FINISHED', `batch ${batchId} is held: release it first`);

  const requeued = await queueStoredRows(store, queue, batch, {
    wants: (result) => result?.status === 'failed',
    // A job BullMQ gave up on is kept under the row's id: make room for the new one. A job that cannot be
    // removed is still active (it has just recorded the row): the row is left as it is, for a later retry.
    prepare: async (row) => {
      const jobId = rowJobId(batchId, row);
      if ((await queue.remove(jobId)) === 0 && (await queue.getJob(jobId))) return false;
      return store.reopenRow(batchId, row);
    },
  });
  return { batchId, requeued };
}
