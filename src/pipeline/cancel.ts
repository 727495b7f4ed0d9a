/**
 * `paylinks cancel`: stops a batch's remaining rows and keeps what was
 * created. One state change accounts for every row without a result (they
 * are reported `failed`, `BATCH_CANCELLED`), whatever the batch's size; the
 * batch's jobs still waiting in the queue are taken out. Rows in flight
 * finish (and are kept if they made a link). The output can still be
 * collected.
 */
import type { Queue } from 'bullmq';
import type { BatchStore } from './batch-store.js';
import { LIVE_STATES } from './batch-states.js';
import { rowsOfJobId } from './job-ids.js';
import { PaylinksError } from '../core/errors.js';

export interface CancelResult {
  batchId: string;
  /** The batch's state afterwards. */
  state: string;
  /** Rows that will not be sent, reported as cancelled (rows still in flight not counted). */
  cancelledRows: number;
}

/** Takes a batch's waiting and delayed jobs out of the queue; resolves with how many were. */
export async function removeQueuedJobs(queue: Queue, batchId: string): Promise<number> {
  const ids = (await queue.getRanges(['wait', 'delayed', 'prioritized'], 0, -1)).filter((id) => rowsOfJobId(batchId, id) !== undefined);
  let removed = 0;
  // A few hundred at a time: a 1,000,000-row batch has 2,000 chunk jobs.
  for (let start = 0; start < ids.length; start += 200) {
    const replies = await Promise.all(ids.slice(start, start + 200).map((id) => queue.remove(id)));
    removed += replies.filter((r) => r === 1).length;
  }
  return removed;
}

export async function cancelBatch(store: BatchStore, queue: Queue, batchId: string): Promise<CancelResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (!(LIVE_STATES as readonly string[]).includes(batch.state)) return { batchId, state: batch.state, cancelledRows: 0 };
  const state = await store.transition(batchId, LIVE_STATES, 'cancelled', { code: 'BATCH_CANCELLED', message: 'cancelled by a user' });
  if (state !== 'cancelled') return { batchId, state: state ?? batch.state, cancelledRows: 0 };
  await removeQueuedJobs(queue, batchId);
  // With no row in flight, the state accounts for every row left: the batch has finished.
  await store.settleStopped(batchId);
  const after = await store.get(batchId);
  return { batchId, state: 'cancelled', cancelledRows: after?.unsent ?? 0 };
}
