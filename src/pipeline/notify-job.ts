/**
 * The `notify` job's contract with its queue: one delivery of one event
 * (`batch.finished`; `payment.exception` and `batch.collected`, see
 * payment-notices.ts), to one webhook URL or as one e-mail. Its name, its
 * data, its backoff and what its processor is handed. The processor is in
 * `jobs/notify.ts`; the entry points hand it to the notifier (see
 * processors.ts).
 *
 * Neither the webhook URL (it may carry a token) nor the signing secret nor
 * the SMTP password is in the job: the processing process takes them from its
 * own configuration.
 */
import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import { z } from 'zod';
import type { NotifySettings } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { BatchStore } from './batch-store.js';

export const NOTIFY_QUEUE = 'notify';
export const NOTIFY_JOB = 'notify';
/** Name of the backoff strategy the notifier's worker registers. */
export const NOTIFY_BACKOFF = 'notify';

/** How long before the next try: about 1 s, doubling, at most 5 minutes. */
export function notifyBackoffMs(attemptsMade: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attemptsMade - 1), 300_000);
}

/** A short stable id of a webhook URL: the job names it without holding it. */
export function webhookId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** The API's address of a batch's output CSV. */
export function outputUrlOf(publicUrl: string, batchId: string): string {
  return `${publicUrl}/api/batches/${encodeURIComponent(batchId)}/output.csv`;
}

const Common = {
  /** `Paylinks-Event-Id`: the same on every delivery and retry of this event. */
  eventId: z.string().min(1),
  /** The batch the event is about ('' for a payment exception on a link of no known batch). */
  batchId: z.string(),
  /** When the event was made (ms): deliveries stop a retry window after it. */
  firstAt: z.number().int(),
};

export const NotifyDataSchema = z.discriminatedUnion('channel', [
  z.object({ channel: z.literal('webhook'), ...Common, webhook: z.string().length(16), body: z.string() }),
  z.object({
    channel: z.literal('email'),
    ...Common,
    /** A payment event's message (payment-notices.ts), sent as is; absent: a finished batch's summary, with its output. */
    subject: z.string().max(200).optional(),
    text: z.string().max(20_000).optional(),
  }),
]);
export type NotifyData = z.infer<typeof NotifyDataSchema>;

export interface NotifyDeps {
  store: BatchStore;
  settings: NotifySettings;
  logger: Logger;
}

/** Makes the processor of `notify` jobs. */
export type NotifyProcessor = (deps: NotifyDeps) => (job: Job) => Promise<void>;
