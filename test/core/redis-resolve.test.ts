import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultPaylinksHome, paylinksHome, stopEmbeddedRedis } from '../../src/core/embedded-redis.js';
import { RedisUnavailableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { freePort, resolveRedis } from '../../src/core/redis.js';
import { testRedisUrl } from '../helpers/redis.js';

describe('which Redis', () => {
  const dirs: string[] = [];
  const tempHome = async () => {
    // Short: the socket path inside must stay under the unix limit.
    const dir = await mkdtemp(path.join(tmpdir(), 'plr-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const dir of dirs.splice(0)) {
      await stopEmbeddedRedis(dir);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('REDIS_URL when it answers', async () => {
    const endpoint = await resolveRedis({ redisUrl: testRedisUrl(), home: await tempHome(), logger: silentLogger() });
    expect(endpoint).toMatchObject({ url: testRedisUrl(), source: 'REDIS_URL', started: false });
  });

  it('a REDIS_URL that does not answer is an error naming the variable, without its password, and nothing is started', async () => {
    const home = await tempHome();
    const url = `redis://:hunter2@127.0.0.1:${await freePort()}`;
    const error = await resolveRedis({ redisUrl: url, home, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^REDIS_URL: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    expect((error as Error).message).not.toContain('hunter2');
    expect(await readdir(home)).toEqual([]);
  });

  it('without REDIS_URL: the embedded Redis of the data directory, on a unix socket there, no TCP port, append-only file on; started once, then reused', async () => {
    const home = await tempHome();
    const first = await resolveRedis({ redisUrl: undefined, home, logger: silentLogger() });
    expect(first).toMatchObject({ source: 'embedded', url: path.join(home, 'redis.sock'), home, started: true });
    const client = new Redis(first.url);
    try {
      const [, appendonly] = (await client.config('GET', 'appendonly')) as [string, string];
      const [, port] = (await client.config('GET', 'port')) as [string, string];
      const [, dir] = (await client.config('GET', 'dir')) as [string, string];
      expect(appendonly).toBe('yes');
      expect(port).toBe('0');
      expect(dir).toBe(path.join(home, 'redis'));
      await client.set('marker', 'kept');
    } finally {
      client.disconnect();
    }
    expect(await readdir(path.join(home, 'redis'))).toContain('appendonlydir');

    // The command ends; the server stays for the next one, with its data.
    await first.close();
    const second = await resolveRedis({ redisUrl: undefined, home, logger: silentLogger() });
    expect(second).toMatchObject({ url: first.url, started: false });
    const again = new Redis(second.url);
    expect(await again.get('marker')).toBe('kept');
    again.disconnect();
  });

  it('commands starting at once start one server (the start lock), and a stale lock left by a dead process is broken', async () => {
    const home = await tempHome();
    // A lock left by a crashed start: a pid that no process has.
    await writeFile(paylinksHome(home).lockFile, '2147483646 dead\n');
    const endpoints = await Promise.all(Array.from({ length: 6 }, () => resolveRedis({ redisUrl: undefined, home, logger: silentLogger() })));
    expect(endpoints.filter((e) => e.started)).toHaveLength(1);
    expect(new Set(endpoints.map((e) => e.url)).size).toBe(1);
    expect(existsSync(paylinksHome(home).lockFile)).toBe(false);
    const pid = Number.parseInt(await readFile(paylinksHome(home).pidFile, 'utf8'), 10);
    const client = new Redis(endpoints[0]!.url);
    const info = await client.info('server');
    client.disconnect();
    expect(info).toContain(`process_id:${pid}`);
  });

  it('without REDIS_URL and without redis-server, an error saying how to get Redis: never another Redis', async () => {
    const home = await tempHome();
    const emptyPath = path.join(home, 'bin');
    await mkdir(emptyPath);
    const savedPath = process.env.PATH;
    process.env.PATH = emptyPath; // no redis-server on it
    try {
      const error = await resolveRedis({ redisUrl: undefined, home, logger: silentLogger() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain(`the embedded Redis in ${home} could not be started (redis-server is not installed (not on the PATH))`);
      expect(message).toContain('apt-get install redis-server');
      expect(message).toContain('set REDIS_URL');
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('a data directory too long for a unix socket is an error naming PAYLINKS_HOME', async () => {
    const home = path.join(await tempHome(), 'x'.repeat(120));
    const error = await resolveRedis({ redisUrl: undefined, home, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^PAYLINKS_HOME: .* longer than a unix socket path may be/);
  });

  it('the default data directory: XDG_DATA_HOME/paylinks, else ~/.local/share/paylinks', () => {
    expect(defaultPaylinksHome({ XDG_DATA_HOME: '/data/u', HOME: '/home/u' })).toBe('/data/u/paylinks');
    expect(defaultPaylinksHome({ HOME: '/home/u' })).toBe('/home/u/.local/share/paylinks');
    // A relative XDG_DATA_HOME is invalid per the spec: ignored.
    expect(defaultPaylinksHome({ XDG_DATA_HOME: 'rel', HOME: '/home/u' })).toBe('/home/u/.local/share/paylinks');
  });
});
