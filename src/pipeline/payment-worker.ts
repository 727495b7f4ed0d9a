/**
 * The payment side of a worker process: runs `confirm-payment` jobs (one per
 * webhook event) with the account's credentials, every read taking a slot of
 * the shared rate limit first.
 */
import { Worker } from 'bullmq';
import { coerceError, PaywintError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connect } from '../core/redis.js';
import type { PaywintClient } from '../paywint/client.js';
import type { Keys } from './keys.js';
import { CONFIRM_ATTEMPTS, PAYMENT_EVENT_QUEUE, type ConfirmPaymentProcessor } from './payment-event-job.js';
import { PaymentExceptions } from './payment-status/exceptions.js';
import { PaymentStatusStore } from './payment-status/store.js';
import type { RedisClient } from '../core/lua.js';
import type { RateLimiter } from './rate-limiter.js';
import { rateLimitPauseMs } from './retry-policy.js';

export interface PaymentWorkerOptions {
  redisUrl: string;
  redis: RedisClient;
  keys: Keys;
  /** The Paywint account (API key). */
  account: string;
  client: PaywintClient;
  limiter: RateLimiter;
  processor: ConfirmPaymentProcessor;
  logger: Logger;
  signal: AbortSignal;
  /** Confirmations at once. Default 4. */
  concurrency?: number;
}

/** How long before a confirmation is tried again: 2 s doubling, at most 10 minutes ({@link CONFIRM_ATTEMPTS} in all). */
export function confirmBackoffMs(attemptsMade: number): number {
  return Math.min(2000 * 2 ** Math.max(0, attemptsMade - 1), 600_000);
}

export { CONFIRM_ATTEMPTS };

export async function startPaymentWorker(options: PaymentWorkerOptions): Promise<{ close(): Promise<void> }> {
  const { logger, keys } = options;
  const store = new PaymentStatusStore(options.redis, keys, options.account);
  const exceptions = new PaymentExceptions(options.redis, keys, options.account);
  const reads = {
    getPayment: async (paymentId: string) => {
      try {
        return await options.client.getPayment(paymentId, { signal: options.signal, beforeRequest: (signal) => options.limiter.acquire(signal).then(() => undefined) });
      } catch (error) {
        // A 429 holds every request of the account back (link creation too) for its Retry-After.
        if (error instanceof PaywintError && error.code === 'PAYWINT_RATE_LIMITED') await options.limiter.pause(rateLimitPauseMs(error));
        throw error;
      }
    },
  };
  const connection = connect(options.redisUrl, { forWorker: true, name: 'paylinks-payments' });
  connection.on('error', () => {});
  const worker = new Worker(PAYMENT_EVENT_QUEUE, options.processor({ store, exceptions, reads, logger }), {
    connection,
    prefix: keys.bullPrefix,
    concurrency: options.concurrency ?? 4,
    settings: { backoffStrategy: (attemptsMade: number) => confirmBackoffMs(attemptsMade) },
  });
  worker.on('error', (e) => logger.warn({ err: e.message }, 'payment worker error (it goes on)'));
  worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: coerceError(error).message }, 'payment confirmation failed (tried again later; the sweep is the backstop)'));
  return {
    close: async () => {
      await worker.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
