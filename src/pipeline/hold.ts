/**
 * Held batches: stored and checked, nothing queued, until a person releases
 * them (their rows are queued) or discards them (deleted). A held batch not
 * released within its hold time (24 hours) expires: Redis drops it.
 */
import type { Queue } from 'bullmq';
import type { Batch, BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { queueStoredRows } from './queue-rows.js';

export interface ReleaseResult {
  batchId: string;
  /** Rows queued for the workers. */
  queued: number;
}

async function heldBatch(store: BatchStore, batchId: string): Promise<Batch> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId} (a held batch expires 24 hours after its upload)`);
  return batch;
}

function notHeld(batchId: string, state: string): PaylinksError {
  return new PaylinksError('BATCH_NOT_HELD', `batch ${batchId} is ${state}, not held: only a held batch can be released or discarded`);
}

/** Queues the rows of a held batch: `held` → `submitting` → `queued`. */
export async function releaseBatch(store: BatchStore, queue: Queue, batchId: string): Promise<ReleaseResult> {
  const batch = await heldBatch(store, batchId);
  const ended = await store.endHold(batchId, 'release');
  if (ended === undefined) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (ended !== 'done') throw notHeld(batchId, ended);
  const queued = await queueStoredRows(store, queue, batch, { wants: (result) => result === undefined });
  await store.markSubmitted(batchId);
  return { batchId, queued };
}

/** Deletes a held batch: nothing of it was sent, nothing is kept. */
export async function discardBatch(store: BatchStore, batchId: string): Promise<{ batchId: string }> {
  await heldBatch(store, batchId);
  const ended = await store.endHold(batchId, 'discard');
  if (ended === undefined) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (ended !== 'done') throw notHeld(batchId, ended);
  return { batchId };
}
