/**
 * The `create-link` job's contract with the queue: its name, its data, its
 * result, and what its processor is handed. The processor itself is in
 * `jobs/create-link.ts`; the entry points hand it to the worker (see
 * processors.ts), so nothing here depends on it.
 */
import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { Slots } from '../core/slots.js';
import type { PaywintClient } from '../paywint/client.js';
import type { BatchStore } from './batch-store.js';
import type { Ledger } from './ledger.js';
import type { RateLimiter } from './rate-limiter.js';

export const CREATE_LINK_JOB = 'create-link';

/** What the worker needs, and nothing else (never credentials): the rows are read from the batch. */
export const CreateLinkDataSchema = z.object({
  batchId: z.string(),
  /** First row (0-based index of the record in the input file). */
  from: z.number().int().nonnegative(),
  /** One past the last row. */
  to: z.number().int().positive(),
  /** Runs of these rows that ended in a retry before this job (a row's own retry job). Default 0. */
  runs: z.number().int().nonnegative().optional(),
});
export type CreateLinkData = z.infer<typeof CreateLinkDataSchema>;

/** What a finished job returns (kept by BullMQ only until it is removed). */
export interface CreateLinkResult {
  /** Rows this run recorded. */
  recorded: number;
}

/** Counters for metrics; each is optional. */
export interface CreateLinkEvents {
  onRequest?(outcome: string): void;
  onRetry?(code: string): void;
  onRateLimitWait?(ms: number): void;
}

export interface CreateLinkDeps {
  store: BatchStore;
  ledger: Ledger;
  limiter: RateLimiter;
  client: PaywintClient;
  /** The queue, to pause every worker after a 429, to look up a claim's holder and to queue a row's retry. */
  queue: Queue;
  /** The worker's row slots: rows in flight in this process, all chunks together. */
  slots: Slots;
  maxAttempts: number;
  retryWindowMs: number;
  logger: Logger;
  /** Aborted when the worker shuts down: no new request starts, waits end. */
  signal?: AbortSignal;
  events?: CreateLinkEvents;
  /** Called once when Paywint refused the credentials for a batch (to take its queued jobs out). */
  onBatchStopped?: (batchId: string) => void;
}

/** Makes the processor of `create-link` jobs from what one worker holds. */
export type CreateLinkProcessor = (deps: CreateLinkDeps) => (job: Job) => Promise<CreateLinkResult>;
