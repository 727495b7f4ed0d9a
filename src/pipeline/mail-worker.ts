/**
 * Messages to customers in a process that runs workers (issue 19): a BullMQ
 * worker on the mail queue running the `send-mail` processor (handed in),
 * at `PAYLINKS_MAIL_RATE` messages a second across every process (the
 * shared schedule of a RateLimiter), and a poll that queues the first
 * messages of batches submitted with `--send` once they finish.
 */
import { Worker } from 'bullmq';
import { Cleanups } from '../core/cleanups.js';
import type { MailSettings } from '../core/config.js';
import { coerceError, PaylinksError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connect } from '../core/redis.js';
import { BatchStore, FINISHED_STATES } from './batch-store.js';
import type { Keys } from './keys.js';
import { MAIL_QUEUE, mailBackoffMs, openMailQueue, type SendMailProcessor } from './mail-job.js';
import { queueFirstMessages } from './mail-plan.js';
import { RateLimiter } from './rate-limiter.js';

export interface MailWorkerOptions {
  redisUrl: string;
  keys: Keys;
  settings: MailSettings;
  logger: Logger;
  processor: SendMailProcessor;
  /** Messages in flight in this process. Default: about the rate's tenth, from 4 to 64. */
  concurrency?: number;
  /** How often batches waiting to send once finished are looked at, ms. Default 1000. */
  pollMs?: number;
  /** The clock, injected in tests. */
  now?: () => number;
  /** A job whose worker died is run again after at most this long, ms (`PAYLINKS_LOCK_DURATION_MS`). Default 30000. */
  lockDurationMs?: number;
}

export interface MailWorkerHandle {
  worker: Worker;
  close(): Promise<void>;
}

export async function startMailWorker(options: MailWorkerOptions): Promise<MailWorkerHandle> {
  const { keys, logger, settings } = options;
  const cleanups = new Cleanups(logger);
  try {
    const redis = connect(options.redisUrl, { forWorker: true, name: 'paylinks-mail' });
    redis.on('error', () => {}); // the worker's own connection reports Redis errors
    cleanups.add(() => redis.quit());
    const queue = openMailQueue(redis, keys);
    cleanups.add(() => queue.close());
    const store = new BatchStore(redis, keys);
    const shutdown = new AbortController();
    cleanups.add(() => shutdown.abort());
    const limiter = new RateLimiter(redis, { key: keys.mailRate(), ratePerSecond: settings.ratePerSecond });
    const processor = options.processor({ redis, keys, store, queue, limiter, settings, logger, signal: shutdown.signal, now: options.now });
    cleanups.add(() => processor.close());

    /** Queues the first messages of finished batches that asked for them. */
    const sendFinished = async () => {
      const waiting = await redis.zrange(keys.mailOnFinish(), '0', '49');
      for (const batchId of waiting) {
        const state = await store.getState(batchId);
        if (state !== undefined && !FINISHED_STATES.includes(state)) continue;
        try {
          if (state !== undefined) {
            const { queued, skipped } = await queueFirstMessages({ redis, keys, store, queue }, batchId);
            logger.info({ batchId, queued, skipped }, 'batch finished: its messages to customers are queued');
          }
        } catch (error) {
          if (!(error instanceof PaylinksError)) throw error;
          logger.warn({ batchId, code: error.code, err: error.message }, 'could not send the batch\'s links');
        }
        await redis.zrem(keys.mailOnFinish(), batchId);
      }
    };
    let polling: Promise<void> | undefined;
    const timer = setInterval(() => {
      polling ??= sendFinished()
        .catch((e: unknown) => logger.warn({ err: coerceError(e).message }, 'could not queue the messages of finished batches yet: trying again'))
        .finally(() => {
          polling = undefined;
        });
    }, options.pollMs ?? 1000);
    cleanups.add(async () => {
      clearInterval(timer);
      await polling;
    });

    const workerConnection = connect(options.redisUrl, { forWorker: true, name: 'paylinks-mail-worker' });
    workerConnection.on('error', () => {});
    cleanups.add(() => workerConnection.quit());
    const worker = new Worker(MAIL_QUEUE, processor.process, {
      connection: workerConnection,
      prefix: keys.bullPrefix,
      concurrency: options.concurrency ?? Math.min(64, Math.max(4, Math.ceil(settings.ratePerSecond / 10))),
      maxStalledCount: 1_000,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.lockDurationMs ?? 30_000,
      settings: { backoffStrategy: (attemptsMade: number) => mailBackoffMs(attemptsMade, settings.retryMs) },
    });
    cleanups.add(() => worker.close());
    worker.on('error', (e) => logger.warn({ err: e.message }, 'mail worker error (it goes on)'));
    logger.info({ ratePerSecond: settings.ratePerSecond }, 'messages to customers on');

    let closing: Promise<void> | undefined;
    return { worker, close: () => (closing ??= cleanups.release()) };
  } catch (error) {
    await cleanups.release();
    throw error;
  }
}
