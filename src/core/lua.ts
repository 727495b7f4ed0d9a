/**
 * A Lua script run by its SHA, loaded on first use (and again after a Redis
 * restart flushed the script cache). Works on a single Redis and on a cluster.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

export class LuaScript {
  private readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /** Queues the script on a pipeline or transaction (sent whole: a pipeline cannot fall back from NOSCRIPT). */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly (string | number)[]): void {
    pipeline.eval(this.source, keys.length, ...keys, ...args);
  }
}
