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

export interface Backend {
  endpoint: RedisEndpoint;
  redis: RedisClient;
  keys: Keys;
  queue: Queue;
  store: BatchStore;
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  config: Pick<Config, 'redisUrl' | 'prefix'> & Partial<Pick<Config, 'retentionDays'>>;
  logger: Logger;
  /**
   * May paylinks start a private redis-server when none is found? Only for
   * `run`, which does everything in one process; a command that leaves work
   * for other processes needs a Redis they can reach. Default false.
   */
  allowStart?: boolean;
  /** Name of the connection, as `CLIENT LIST` shows it. */
  name?: string;
}

export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  const { config, logger } = options;
  const endpoint = await resolveRedis({ redisUrl: config.redisUrl, logger, allowStart: options.allowStart ?? false });
  const keys = new Keys(config.prefix);
  const redis = connect(endpoint.url, { name: options.name ?? 'paylinks' });
  redis.on('error', (e) => logger.warn({ err: e.message }, 'Redis connection error (will reconnect)'));
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
