/**
 * What every command that works on batches opens: a Redis connection, the
 * queue and the batch store, under one prefix; closed in reverse order.
 */
import type { Queue } from 'bullmq';
import { BatchStore } from './batch-store.js';
import type { Config } from '../core/config.js';
import { Keys } from './keys.js';
import type { RedisClient } from '../core/lua.js';
import type { Logger } from '../core/logger.js';
import { openQueue } from './queue.js';
import { connect, resolveRedis, type RedisEndpoint } from '../core/redis.js';
import { RedisUnavailableError } from '../core/errors.js';
import { ensureLedgerKeyed } from './ledger-rekey.js';

export interface Backend {
  endpoint: RedisEndpoint;
  redis: RedisClient;
  keys: Keys;
  queue: Queue;
  store: BatchStore;
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  config: Pick<Config, 'redisUrl' | 'prefix'> & Partial<Pick<Config, 'retentionDays' | 'home'>>;
  logger: Logger;
  /**
   * The Paywint account whose ledger is counted in the log line that says
   * which Redis is used. Default: none (the count is left out).
   */
  account?: string;
  /** Name of the connection, as `CLIENT LIST` shows it. */
  name?: string;
}

export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  const { config, logger } = options;
  const endpoint = await resolveRedis({ redisUrl: config.redisUrl, home: config.home, logger });
  const keys = new Keys(config.prefix);
  const redis = connect(endpoint.url, { name: options.name ?? 'paylinks' });
  redis.on('error', (e) => logger.warn({ err: e.message }, 'Redis connection error (will reconnect)'));
  await announce(redis, keys, endpoint, options).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  // A ledger written before it was keyed by invoice keys is moved once, before anything reads it.
  if (options.account !== undefined) {
    await ensureLedgerKeyed(redis, keys, options.account, logger).catch((error: unknown) => {
      redis.disconnect();
      throw error;
    });
  }
  const queue = openQueue(redis, keys);
  const store = new BatchStore(redis, keys, { retentionMs: config.retentionDays === undefined ? undefined : config.retentionDays * 86_400_000 });
  return {
    endpoint,
    redis,
    keys,
    queue,
    store,
    close: async () => {
      await queue.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await endpoint.close();
    },
  };
}

/**
 * Says, at the default level, which Redis holds the ledger and how many
 * invoices it holds for the account: a person who sees 0 where they expected
 * last month's links knows at once they are on another Redis.
 */
async function announce(redis: RedisClient, keys: Keys, endpoint: RedisEndpoint, options: OpenBackendOptions): Promise<void> {
  let invoices: number | undefined;
  try {
    invoices = options.account === undefined ? undefined : await redis.hlen(keys.ledger(options.account));
  } catch (error) {
    throw new RedisUnavailableError(`${endpoint.description}: ${(error as Error).message}`, error);
  }
  const ledger = invoices === undefined ? '' : `; its ledger holds ${invoices} invoice${invoices === 1 ? '' : 's'} for this account`;
  options.logger.info({ redis: endpoint.description, prefix: options.config.prefix, ledgerInvoices: invoices }, `using ${endpoint.description}${ledger}`);
}
