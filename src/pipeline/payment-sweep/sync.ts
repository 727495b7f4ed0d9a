/**
 * `paylinks payments sync`: one sweep pass of the configured account, from a
 * command (opens Redis, the queue and a Paywint client; closes them after).
 */
import { requireCredentials, type Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { PaywintClient } from '../../paywint/client.js';
import { openBackend } from '../backend.js';
import { RateLimiter } from '../rate-limiter.js';
import { runSweep, type SweepRun } from './run.js';

export interface SyncOptions {
  config: Config;
  logger: Logger;
  /** Only this batch's open links are read. */
  batchId?: string;
  signal?: AbortSignal;
}

export async function syncPayments(options: SyncOptions): Promise<SweepRun> {
  const { config, logger } = options;
  const credentials = requireCredentials(config);
  const backend = await openBackend({ config, logger, account: credentials.apiKey, name: 'paylinks-payments-sync' });
  const client = new PaywintClient({ baseUrl: config.baseUrl, apiKey: credentials.apiKey, apiSecret: credentials.apiSecret, timeoutMs: config.timeoutMs, connections: Math.max(8, config.concurrency), linkHosts: config.linkHosts });
  try {
    const limiter = new RateLimiter(backend.redis, { key: backend.keys.rateLimit(credentials.apiKey), ratePerSecond: config.rateLimit });
    return await runSweep(
      { redis: backend.redis, keys: backend.keys, account: credentials.apiKey, reads: client, limiter, queue: backend.queue, ratePerSecond: config.rateLimit, share: config.paymentSweepShare, logger },
      { batchId: options.batchId, openAfterMs: config.paymentSweepOpenAfterMinutes * 60_000, concurrency: Math.max(8, config.concurrency), signal: options.signal },
    );
  } finally {
    await client.close();
    await backend.close();
  }
}
