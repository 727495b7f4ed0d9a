/**
 * `paylinks retry`: queues a batch's failed rows again. Only `failed` rows
 * (and, in a batch that was stopped, the rows it never sent):
 * invalid, duplicate and conflicting rows need a corrected file, not a retry.
 * The ledger still guards every invoice, so a row whose link was made after
 * all (an unknown outcome) is never sent twice by paylinks.
 */
import type { Queue } from 'bullmq';
import type { BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { queueStoredRows } from './queue-rows.js';
import { expiredError } from './collector.js';

export interface RetryResult {
  batchId: string;
  requeued: number;
}

export async function retryFailedRows(store: BatchStore, queue: Queue, batchId: string): Promise<RetryResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.state === 'cancelled') throw new PaylinksError('BATCH_CANCELLED', `batch ${batchId} was cancelled: submit the file again instead`);
  if (batch.state === 'held') throw new PaylinksError('BATCH_NOT_FINISHED', `batch ${batchId} is held: release it first`);
  if (batch.rows > 0 && !(await store.hasRecords(batchId))) throw expiredError(batch.id, batch.expiresAt ?? null);

  // A stopped batch runs again first, so that its rows without a result are sent by the jobs below.
  const stopped = batch.state === 'failed' && batch.submittedAt !== null;
  if (stopped) await store.reopenRows(batchId, [], true);
  const requeued = await queueStoredRows(store, queue, batch, {
    tag: `g${Date.now().toString(36)}`,
    pick: async (start, results) => {
      const failedRows: number[] = [];
      const unsent: number[] = [];
      results.forEach((r, i) => {
        if (r?.status === 'failed') failedRows.push(start + i);
        else if (r === undefined && stopped) unsent.push(start + i);
      });
      const reopened = failedRows.length > 0 ? await store.reopenRows(batchId, failedRows) : [];
      return [...reopened, ...unsent].sort((a, b) => a - b);
    },
  });
  return { batchId, requeued };
}
