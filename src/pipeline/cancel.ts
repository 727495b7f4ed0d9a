/**
 * `paylinks cancel`: stops a batch's remaining rows and keeps what was
 * created. Rows waiting in the queue are taken out and reported as
 * `BATCH_CANCELLED`; rows in flight finish (and are kept if they made a
 * link). The output can still be collected.
 */
import type { Queue } from 'bullmq';
import { rowJobId, type BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';

/** Rows looked at per Redis round trip. */
const CHUNK_ROWS = 500;

export interface CancelResult {
  batchId: string;
  /** The batch's state afterwards. */
  state: string;
  /** Rows taken out of the queue and reported as cancelled. */
  cancelledRows: number;
}

export async function cancelBatch(store: BatchStore, queue: Queue, batchId: string): Promise<CancelResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  const state = await store.transition(batchId, ['submitting', 'queued', 'running'], 'cancelled', { code: 'BATCH_CANCELLED', message: 'cancelled by a user' });
  if (state !== 'cancelled') return { batchId, state: state ?? batch.state, cancelledRows: 0 };

  let cancelledRows = 0;
  for (let start = 0; start < batch.rows; start += CHUNK_ROWS) {
    const results = await store.readResults(batchId, start, Math.min(CHUNK_ROWS, batch.rows - start));
    await Promise.all(
      results.map(async (result, i) => {
        if (result) return;
        const row = start + i;
        // remove() refuses a job a worker holds (returns 0): that row finishes on its own.
        const removed = await queue.remove(rowJobId(batchId, row));
        const job = removed === 1 ? undefined : await queue.getJob(rowJobId(batchId, row));
        if (removed === 1 || !job) {
          const recorded = await store.finishRow(batchId, row, { status: 'failed', errorCode: 'BATCH_CANCELLED', errorMessage: 'not sent: the batch was cancelled', attempts: 0 });
          if (recorded) cancelledRows += 1;
        }
      }),
    );
  }
  return { batchId, state: 'cancelled', cancelledRows };
}
