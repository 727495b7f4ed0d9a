import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisUnavailableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { freePort, resolveRedis } from '../../src/core/redis.js';
import { testRedisUrl } from '../helpers/redis.js';

/** Whether a Redis answers at `url`. */
async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describe('finding Redis', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-resolve-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('uses the local Redis when it answers', async () => {
    const endpoint = await resolveRedis({ redisUrl: undefined, localUrl: testRedisUrl(), logger: silentLogger() });
    expect(endpoint).toMatchObject({ url: testRedisUrl(), source: 'local' });
  });

  it('with no REDIS_URL and nothing local, starts a private redis-server with the append-only file on, and stops it on close', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const dataDir = path.join(await tempDir(), 'redis');
    const logged: string[] = [];
    const logger = silentLogger();
    logger.info = ((_obj: unknown, msg: string) => void logged.push(msg)) as typeof logger.info;

    const endpoint = await resolveRedis({ redisUrl: undefined, localUrl: nobody, dataDir, logger });
    try {
      expect(endpoint.source).toBe('started');
      expect(endpoint.url).not.toBe(nobody);
      expect(await answers(endpoint.url)).toBe(true);
      expect(logged).toContain('no Redis found: started a private redis-server for this command');
      // Bound to loopback, data under the given directory, append-only file on.
      const client = new Redis(endpoint.url);
      const [, appendonly] = (await client.config('GET', 'appendonly')) as [string, string];
      const [, bind] = (await client.config('GET', 'bind')) as [string, string];
      client.disconnect();
      expect(appendonly).toBe('yes');
      expect(bind).toBe('127.0.0.1');
      expect(await readdir(dataDir)).toContain('appendonlydir');
    } finally {
      await endpoint.close();
    }
    expect(await answers(endpoint.url)).toBe(false);
  });

  it('without a redis-server binary, says how to get a Redis', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const savedPath = process.env.PATH;
    process.env.PATH = await tempDir(); // an empty directory: no redis-server on it
    try {
      const error = await resolveRedis({ redisUrl: undefined, localUrl: nobody, dataDir: path.join(await tempDir(), 'redis'), logger: silentLogger() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain(`nothing answers at ${new URL(nobody).host}`);
      expect(message).toContain('redis-server could not be started');
      expect(message).toContain('docker compose up -d redis');
      expect(message).toContain('set REDIS_URL');
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('where starting one is not allowed (worker, submit), names REDIS_URL and starts nothing', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const dataDir = path.join(await tempDir(), 'redis');
    const error = await resolveRedis({ redisUrl: undefined, localUrl: nobody, dataDir, allowStart: false, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^no Redis: REDIS_URL is not set and nothing answers at 127\.0\.0\.1:\d+\. Set REDIS_URL/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a REDIS_URL that does not answer is an error naming the variable, without its password', async () => {
    const url = `redis://:hunter2@127.0.0.1:${await freePort()}`;
    const error = await resolveRedis({ redisUrl: url, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^REDIS_URL: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
