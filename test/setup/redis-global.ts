/**
 * One Redis for the whole test run: `REDIS_URL` if set; else a testcontainers
 * Redis where Docker works; else a `redis-server` spawned on a free port.
 * Tests read its URL with `inject('redisUrl')` and use their own key prefix.
 *
 * Also a `PAYLINKS_HOME` of the run's own (a temporary directory), so that no
 * test, and no CLI a test spawns without `REDIS_URL`, ever reaches the real
 * user's embedded Redis; its embedded Redis, if one started, stops at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopEmbeddedRedis } from '../../src/core/embedded-redis.js';
import { startRedisServer } from '../../src/core/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    paylinksHome: string;
  }
}

async function tryContainer(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch {
    return undefined; // no Docker engine here: fall back to a local redis-server
  }
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7-alpine').start();
  return { url: container.getConnectionUrl(), stop: async () => void (await container.stop()) };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const home = await mkdtemp(path.join(tmpdir(), 'plh-'));
  // Test workers and the processes they spawn inherit it.
  process.env.PAYLINKS_HOME = home;
  project.provide('paylinksHome', home);
  const stopHome = async () => {
    await stopEmbeddedRedis(home);
    await rm(home, { recursive: true, force: true });
  };
  const redis = await startRedis(project);
  return async () => {
    await redis();
    await stopHome();
  };
}

async function startRedis(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return async () => {};
  }
  const container = await tryContainer();
  if (container) {
    project.provide('redisUrl', container.url);
    return container.stop;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-test-redis-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  project.provide('redisUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
