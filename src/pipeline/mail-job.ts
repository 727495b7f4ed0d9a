/**
 * The `send-mail` job's contract with its queue (issue 19): one message to
 * one customer, about one invoice of one batch: its first message or one of
 * its reminders. Its queue, name, data, job ids, options and what its
 * processor is handed. The processor is `jobs/send-mail.ts`; the entry
 * points hand it to the worker (see processors.ts).
 *
 * The job holds no address, no name and no link: the processor reads the
 * address and the name from the batch's stored row and the link from the
 * ledger (the only link a message may carry is the one paylinks recorded for
 * that invoice). Neither the SMTP URL nor its password is in the job.
 */
import { Queue as QueueClass, type Job, type JobsOptions, type Queue } from 'bullmq';
import { z } from 'zod';
import type { MailSettings } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/lua.js';
import type { BatchStore } from './batch-store.js';
import type { Keys } from './keys.js';
import type { RateLimiter } from './rate-limiter.js';

/** The BullMQ queue of messages to customers, apart from `create-link`: its own rate, its own workers. */
export const MAIL_QUEUE = 'mail';
export const SEND_MAIL_JOB = 'send-mail';
/** Name of the backoff strategy the mail worker registers. */
export const MAIL_BACKOFF = 'mail';

/** The messages an invoice may get, each at most once: the first, then up to three reminders. */
export const MAIL_KINDS = ['first', 'reminder1', 'reminder2', 'reminder3'] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export const SendMailDataSchema = z.object({
  /** The Paywint account (its API key, an identifier): whose ledger holds the invoice's link. */
  account: z.string().min(1),
  batchId: z.string().min(1),
  /** The row (0-based index of the record in the input file) whose address, name and due date are used. */
  row: z.number().int().nonnegative(),
  /** The invoice, as written in the row (the message's claim is by its invoice key). */
  invoiceNumber: z.string().min(1),
  kind: z.enum(MAIL_KINDS),
});
export type SendMailData = z.infer<typeof SendMailDataSchema>;

/**
 * The job id of a message: one per batch row and kind, so that `paylinks
 * send` run twice, or by two processes, adds one job. (Exactly once is the
 * claim's work, by invoice and kind across batches: a job id only saves a
 * second job.)
 */
export function mailJobId(batchId: string, row: number, kind: MailKind): string {
  return `${batchId}-m${row}-${kind}`;
}

/** Temporary failures (4xx, a server not reachable) are retried for about a day, backing off up to an hour apart. */
export const MAIL_MAX_ATTEMPTS = 40;

/** `firstMs` (PAYLINKS_MAIL_RETRY_MS, 30 s), doubling, at most 1 hour. */
export function mailBackoffMs(attemptsMade: number, firstMs = 30_000): number {
  return Math.min(firstMs * 2 ** Math.max(0, attemptsMade - 1), 3_600_000);
}

export const MAIL_JOB_OPTIONS: JobsOptions = {
  attempts: MAIL_MAX_ATTEMPTS,
  backoff: { type: MAIL_BACKOFF },
  removeOnComplete: true,
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** What a finished job returns: how the message ended (kept by BullMQ only until it is removed). */
export interface SendMailResult {
  outcome: 'sent' | 'bounced' | 'unknown' | 'failed' | 'skipped' | 'done-before';
  detail?: string;
}

export interface SendMailDeps {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
  /** The mail queue, to queue an invoice's reminders once its first message went out. */
  queue: Queue;
  /** Messages per second, every process together (`PAYLINKS_MAIL_RATE`). */
  limiter: RateLimiter;
  settings: MailSettings;
  logger: Logger;
  /** Aborted when the worker shuts down. */
  signal?: AbortSignal;
  /** The clock (ms since the epoch): injected in tests. Default Date.now. */
  now?: () => number;
}

/** Makes the processor of `send-mail` jobs. */
export type SendMailProcessor = (deps: SendMailDeps) => {
  process: (job: Job, token?: string) => Promise<SendMailResult>;
  close: () => Promise<void>;
};

/** The mail queue, under the `{prefix}` hash tag like every key. */
export function openMailQueue(connection: RedisClient, keys: Keys): Queue {
  return new QueueClass(MAIL_QUEUE, { connection, prefix: keys.bullPrefix });
}
