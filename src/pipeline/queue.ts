/**
 * The BullMQ queue of `create-link` jobs: one for all batches, under the
 * `{prefix}` hash tag. Job options live here so producer and `retry` agree.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../core/lua.js';
import { QUEUE_NAME, type Keys } from './keys.js';

/** Name of the backoff strategy the worker registers (see retry-policy.ts). */
export const BACKOFF_TYPE = 'paylinks';

/**
 * Per job: BullMQ may run it many times; the row's own budget (attempts and
 * retry window, kept in the ledger claim) decides when it fails. Finished
 * jobs are removed: the row's result lives in the batch, not in BullMQ.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 10_000,
  backoff: { type: BACKOFF_TYPE },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

export function openQueue(connection: RedisClient, keys: Keys): Queue {
  return new Queue(QUEUE_NAME, { connection, prefix: keys.bullPrefix });
}
