/**
 * A worker: a BullMQ worker running the `create-link` processor against
 * Paywint, rate-limited per account across every process. Each job is a
 * chunk of rows; `concurrency` is the number of rows in flight in the
 * process, all chunks together (see Slots).
 */
import { setMaxListeners } from 'node:events';
import { Worker, type Job } from 'bullmq';
import { BatchStore } from './batch-store.js';
import { mailConfigured, type Config, type Credentials, type MailSettings, type NotifySettings } from '../core/config.js';
import { coerceError } from '../core/errors.js';
import { Keys, QUEUE_NAME } from './keys.js';
import { Ledger } from './ledger.js';
import { ensureLedgerKeyed } from './ledger-rekey.js';
import type { Logger } from '../core/logger.js';
import { PaywintClient } from '../paywint/client.js';
import { openQueue } from './queue.js';
import { RateLimiter } from './rate-limiter.js';
import { startPaymentWorker } from './payment-worker.js';
import { startPeriodicSweep } from './payment-sweep/index.js';
import { connect } from '../core/redis.js';
import { backoffBetweenJobsMs } from './retry-policy.js';
import { Slots } from '../core/slots.js';
import { CLEANUP_TIMEOUT_MS, Cleanups } from '../core/cleanups.js';
import { removeQueuedJobs } from './cancel.js';
import { NOTIFIER_CLOSE_MS, notificationsConfigured, startNotifier } from './notifier.js';
import { CreateLinkDataSchema, type CreateLinkEvents } from './create-link-job.js';
import type { Processors } from './processors.js';
import { startMailWorker } from './mail-worker.js';

/** The settings of a worker, as the configuration has them (see config.ts for each one's meaning). */
export type WorkerSettings = Pick<Config, 'prefix' | 'rateLimit' | 'concurrency' | 'timeoutMs' | 'maxAttempts' | 'retryWindowMs' | 'lockDurationMs'> &
  Partial<Pick<Config, 'linkHosts' | 'unknownOutcomeRetries' | 'paymentSweepMinutes' | 'paymentSweepShare' | 'paymentSweepOpenAfterMinutes'>>;

export interface WorkerOptions {
  redisUrl: string;
  credentials: Credentials;
  /** Paywint base URL. */
  baseUrl: string;
  settings: WorkerSettings;
  logger: Logger;
  /** The job processors (jobs/index.ts), handed in by the entry point. */
  processors: Processors;
  events?: CreateLinkEvents;
  /**
   * Notifications of finished batches (webhooks, e-mail): when any is
   * configured, this process also delivers them. Default: none.
   */
  notify?: NotifySettings;
  /** Messages to customers (issue 19): when the mail server and sender are set, this process sends them too. Default: none. */
  mail?: MailSettings;
}

/** How long a worker may take to stop: the requests in flight finish, each bounded by the timeout. */
export function shutdownBoundMs(settings: Pick<Config, 'timeoutMs'>): number {
  return settings.timeoutMs + 5_000;
}

export interface WorkerHandle {
  worker: Worker;
  /**
   * Stops taking jobs, lets those in flight finish (at most `timeoutMs`,
   * default 30000; after that they are left to stall and are picked up again
   * by the next worker), then closes every connection, in reverse order.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** How many times a job may stall (its worker died) before BullMQ would give up on it. */
const MAX_STALLED = 1_000;

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const { logger, settings } = options;
  const keys = new Keys(settings.prefix);
  const cleanups = new Cleanups(logger);

  try {
    const redis = connect(options.redisUrl, { forWorker: true, name: 'paylinks-worker-cmd' });
    cleanups.add(() => redis.quit());
    redis.on('error', (e) => logger.warn({ err: e.message }, 'Redis connection error (will reconnect)'));
    // A ledger written before it was keyed by invoice keys is moved once, before any row claims an invoice.
    await ensureLedgerKeyed(redis, keys, options.credentials.apiKey, logger);
    const queue = openQueue(redis, keys);
    cleanups.add(() => queue.close());
    const client = new PaywintClient({
      baseUrl: options.baseUrl,
      apiKey: options.credentials.apiKey,
      apiSecret: options.credentials.apiSecret,
      timeoutMs: settings.timeoutMs,
      connections: Math.max(8, settings.concurrency),
      linkHosts: settings.linkHosts,
    });
    cleanups.add(() => client.close());
    const shutdown = new AbortController();
    // Every job in flight listens to it (waits for a rate-limit slot, p-retry's delays).
    setMaxListeners(0, shutdown.signal);
    const store = new BatchStore(redis, keys);
    if (options.notify && notificationsConfigured(options.notify)) {
      // Started before the worker, so it is closed after it: a batch its last rows finish is still announced.
      const notifier = await startNotifier({ redisUrl: options.redisUrl, keys, settings: options.notify, logger, processor: options.processors.notify, account: options.credentials.apiKey });
      cleanups.add(() => notifier.close(), NOTIFIER_CLOSE_MS + CLEANUP_TIMEOUT_MS);
    }
    if (options.mail && mailConfigured(options.mail) && options.processors.sendMail) {
      const mail = await startMailWorker({ redisUrl: options.redisUrl, keys, settings: options.mail, logger, processor: options.processors.sendMail, lockDurationMs: settings.lockDurationMs });
      cleanups.add(() => mail.close(), 20_000);
    }
    const limiter = new RateLimiter(redis, { key: keys.rateLimit(options.credentials.apiKey), ratePerSecond: settings.rateLimit });
    // Webhook confirmations: their reads take slots of the same rate limit as link creation.
    const payments = await startPaymentWorker({ redisUrl: options.redisUrl, redis, keys, account: options.credentials.apiKey, client, limiter, processor: options.processors.confirmPayment, logger, signal: shutdown.signal, concurrency: Math.max(4, settings.concurrency) });
    cleanups.add(() => payments.close());
    // The payment sweep, the backstop for missed webhooks (off without PAYLINKS_PAYMENT_SWEEP_MINUTES, or at 0).
    if ((settings.paymentSweepMinutes ?? 0) > 0) {
      const sweep = startPeriodicSweep({
        redis,
        keys,
        account: options.credentials.apiKey,
        reads: client,
        limiter,
        queue,
        ratePerSecond: settings.rateLimit,
        share: settings.paymentSweepShare ?? 0.2,
        logger,
        intervalMs: settings.paymentSweepMinutes! * 60_000,
        openAfterMs: (settings.paymentSweepOpenAfterMinutes ?? 60) * 60_000,
        concurrency: Math.max(8, settings.concurrency),
      });
      cleanups.add(() => sweep.close());
    }
    const processor = options.processors.createLink({
      store,
      ledger: new Ledger(redis, keys, options.credentials.apiKey, { unknownOutcomeRetries: settings.unknownOutcomeRetries }),
      limiter,
      client,
      queue,
      slots: new Slots(settings.concurrency),
      onBatchStopped: (batchId) => {
        // Its queued chunks would find it stopped anyway: take them out now.
        removeQueuedJobs(queue, batchId).catch((e: unknown) => logger.warn({ batchId, err: coerceError(e).message }, 'could not take the stopped batch\'s jobs out of the queue'));
      },
      maxAttempts: settings.maxAttempts,
      retryWindowMs: settings.retryWindowMs,
      logger,
      signal: shutdown.signal,
      events: options.events,
    });

    const workerConnection = connect(options.redisUrl, { forWorker: true, name: 'paylinks-worker' });
    workerConnection.on('error', () => {}); // reported once, by the connection above
    cleanups.add(() => workerConnection.quit());
    const worker = new Worker(QUEUE_NAME, processor, {
      connection: workerConnection,
      prefix: keys.bullPrefix,
      // As many chunks at once as row slots: a row that needs a later retry runs in a job of its own, so
      // during an outage every slot may hold such a one-row job. The earliest chunk gets the slots first
      // (see Slots), so a chunk still ends soon after it starts.
      concurrency: settings.concurrency,
      // BullMQ's limiter counts job starts, and a row that finds its link in the ledger needs no
      // request: the per-request limit is the RateLimiter's. This one is set only so that the
      // queue-wide pause after a 429 (queue.rateLimit) applies; its cap is never reached.
      limiter: { max: 1_000_000, duration: 1000 },
      maxStalledCount: MAX_STALLED,
      lockDuration: settings.lockDurationMs,
      // Stalled rows are looked for as often as a lock can expire.
      stalledInterval: settings.lockDurationMs,
      settings: { backoffStrategy: (attemptsMade: number) => backoffBetweenJobsMs(attemptsMade) },
      autorun: true,
    });
    cleanups.add(() => worker.close(true));
    worker.on('error', (e) => logger.warn({ err: e.message }, 'worker error (it goes on)'));
    worker.on('failed', (job: Job | undefined, error: Error) => {
      if (!job) return;
      const finalRun = job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled more than/.test(error.message);
      if (finalRun) void settleAbandoned(store, job, error, logger);
    });

    let closing: Promise<void> | undefined;
    return {
      worker,
      close: (timeoutMs = 30_000) => (closing ??= closeWorker(timeoutMs)),
    };

    async function closeWorker(timeoutMs: number): Promise<void> {
      shutdown.abort();
      const graceful = worker.close();
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') {
        logger.warn({ timeoutMs }, 'jobs still in flight after the shutdown timeout: left for the next worker');
      }
      await cleanups.release();
    }
  } catch (error) {
    await cleanups.release();
    throw error;
  }
}

/** A job BullMQ gave up on: its rows without a result fail with the reason, so their batch still finishes. */
async function settleAbandoned(store: BatchStore, job: Job, error: Error, logger: Logger): Promise<void> {
  const parsed = CreateLinkDataSchema.safeParse(job.data);
  if (!parsed.success) return;
  const { batchId, from, to } = parsed.data;
  try {
    const results = await store.readResults(batchId, from, to - from);
    const result = { status: 'failed' as const, errorCode: 'INTERNAL', errorMessage: `the job was abandoned: ${error.message}`, attempts: 0 };
    const rows = results.flatMap((r, i) => (r === undefined ? [{ row: from + i, result }] : []));
    await store.finishRows(batchId, rows);
  } catch (e) {
    logger.error({ batchId, from, to, err: coerceError(e).message }, 'could not record an abandoned job\'s rows');
  }
}
