/**
 * Notifications when a batch finishes, in every process that runs workers;
 * and, for the process's Paywint account, each new payment exception and
 * each batch whose links are all paid (payment-notices.ts).
 *
 * The row that finishes a batch records one finish event in Redis in the
 * same atomic step as its result (see batch-store.ts), whichever process
 * ran it. The notifier turns each pending event into `notify` jobs, one per
 * webhook URL and one e-mail, with job ids derived from the event id: two
 * processes doing it at once, or one doing it again after a crash, add the
 * same jobs, which BullMQ keeps once. Then it runs those jobs.
 */
import { Queue, Worker, type JobsOptions } from 'bullmq';
import type { NotifySettings } from '../core/config.js';
import { Cleanups } from '../core/cleanups.js';
import { coerceError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connect } from '../core/redis.js';
import { BatchStore } from './batch-store.js';
import type { Keys } from './keys.js';
import { NOTIFY_BACKOFF, NOTIFY_JOB, NOTIFY_QUEUE, notifyBackoffMs, outputUrlOf, webhookId, type NotifyData, type NotifyProcessor } from './notify-job.js';
import { describeProgress, statusToJson } from './status.js';
import { queuePaymentNotices } from './payment-notices.js';
import { PaymentStatusStore } from './payment-status/store.js';

/** Whether any notification is configured (otherwise no notifier runs, and events wait for a process that has one). */
export function notificationsConfigured(settings: NotifySettings): boolean {
  return settings.urls.length > 0 || settings.emails.length > 0;
}

/**
 * Kept long after delivery, so that an event queued again (a process died
 * between queueing and forgetting it) finds its jobs and adds nothing.
 */
const JOB_OPTIONS: JobsOptions = {
  attempts: 100_000, // the retry window decides when to stop
  backoff: { type: NOTIFY_BACKOFF },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

export interface NotifierOptions {
  redisUrl: string;
  keys: Keys;
  settings: NotifySettings;
  logger: Logger;
  /** The `notify` jobs' processor (jobs/notify.ts, handed in by the entry point). */
  processor: NotifyProcessor;
  /** The Paywint account whose payment exceptions and collected batches this process announces (none: only finishes). */
  account?: string;
  /** How often pending finish events are looked for, ms. Default 1000. */
  pollMs?: number;
  /** Deliveries in flight at once. Default 5. */
  concurrency?: number;
}

/** How long closing the notifier lets deliveries already waiting run, ms. */
export const NOTIFIER_CLOSE_MS = 15_000;

export interface NotifierHandle {
  /**
   * Queues what is pending, lets deliveries already waiting run (at most
   * `timeoutMs`, default 15000; retries left for later stay queued for the
   * next process), then closes every connection.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** The webhook's JSON body of a finish event. */
export function eventBody(eventId: string, batch: Parameters<typeof describeProgress>[0], publicUrl: string | undefined): string {
  return JSON.stringify({
    id: eventId,
    event: 'batch.finished',
    batch: statusToJson(describeProgress(batch)),
    ...(publicUrl ? { output_url: outputUrlOf(publicUrl, batch.id) } : {}),
  });
}

export async function startNotifier(options: NotifierOptions): Promise<NotifierHandle> {
  const { settings, logger, keys } = options;
  const cleanups = new Cleanups(logger);
  try {
    const redis = connect(options.redisUrl, { name: 'paylinks-notify' });
    redis.on('error', () => {}); // the worker's own connection reports Redis errors
    cleanups.add(() => redis.quit());
    const store = new BatchStore(redis, keys);
    const queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix: keys.bullPrefix });
    cleanups.add(() => queue.close());

    /** Turns pending finish events into delivery jobs. */
    const enqueuePending = async () => {
      for (;;) {
        const pending = await store.pendingFinishes(50);
        if (pending.length === 0) return;
        for (const { eventId, batchId } of pending) {
          const batch = await store.get(batchId);
          if (batch) {
            const firstAt = Date.now();
            const common = { eventId, batchId, firstAt };
            const body = eventBody(eventId, batch, settings.publicUrl);
            const jobs: { data: NotifyData; id: string }[] = [
              ...settings.urls.map((url) => ({ data: { channel: 'webhook' as const, ...common, webhook: webhookId(url), body }, id: `${eventId}-w${webhookId(url)}` })),
              ...(settings.emails.length > 0 ? [{ data: { channel: 'email' as const, ...common }, id: `${eventId}-email` }] : []),
            ];
            await queue.addBulk(jobs.map((j) => ({ name: NOTIFY_JOB, data: j.data, opts: { ...JOB_OPTIONS, jobId: j.id } })));
            logger.info({ eventId, batchId, state: batch.state, deliveries: jobs.length }, 'batch finished: notifications queued');
            // Its links may all be paid already (paid before the batch finished): check it for batch.collected.
            await new PaymentStatusStore(redis, keys, batch.account).noteCollectCheck(batchId);
          }
          await store.settleFinish(eventId);
        }
      }
    };

    /** Turns new payment exceptions and collected batches into delivery jobs. */
    const enqueuePayments = async () => {
      if (options.account === undefined) return;
      await queuePaymentNotices({
        redis,
        keys,
        store,
        account: options.account,
        settings,
        enqueue: async (jobs) => {
          await queue.addBulk(jobs.map((j) => ({ name: NOTIFY_JOB, data: j.data, opts: { ...JOB_OPTIONS, jobId: j.id } })));
        },
        onQueued: (notice, event) => logger.info({ eventId: notice.eventId, batchId: notice.batchId, event }, `${event}: notifications queued`),
      });
    };

    let pumping: Promise<void> | undefined;
    const pump = () =>
      (pumping ??= enqueuePending()
        .then(enqueuePayments)
        .catch((e: unknown) => logger.warn({ err: coerceError(e).message }, 'could not queue notifications yet: trying again'))
        .finally(() => {
          pumping = undefined;
        }));
    const timer = setInterval(() => void pump(), options.pollMs ?? 1000);
    cleanups.add(() => clearInterval(timer));

    const workerConnection = connect(options.redisUrl, { forWorker: true, name: 'paylinks-notify-worker' });
    workerConnection.on('error', () => {});
    cleanups.add(() => workerConnection.quit());
    const worker = new Worker(NOTIFY_QUEUE, options.processor({ store, settings, logger }), {
      connection: workerConnection,
      prefix: keys.bullPrefix,
      concurrency: options.concurrency ?? 5,
      settings: { backoffStrategy: (attemptsMade: number) => notifyBackoffMs(attemptsMade) },
    });
    cleanups.add(() => worker.close());
    worker.on('error', (e) => logger.warn({ err: e.message }, 'notification worker error (it goes on)'));
    void pump();
    logger.info({ webhooks: settings.urls.length, emails: settings.emails.length }, 'notifications on');

    let closing: Promise<void> | undefined;
    return {
      close: (timeoutMs = NOTIFIER_CLOSE_MS) =>
        (closing ??= (async () => {
          clearInterval(timer);
          await pumping;
          await pump();
          const deadline = Date.now() + timeoutMs;
          while (Date.now() < deadline) {
            const counts = await queue.getJobCounts('wait', 'active', 'prioritized');
            if ((counts.wait ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) === 0) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          await cleanups.release();
        })()),
    };
  } catch (error) {
    await cleanups.release();
    throw error;
  }
}
