/**
 * The embedded Redis: one per user, in a fixed data directory
 * (`PAYLINKS_HOME`), used whenever `REDIS_URL` is not set.
 *
 * The idempotency ledger must not depend on the working directory or on
 * which Redis happened to answer first, so every command (`run`, `serve`,
 * `submit`, `worker`, `status`, ...) reaches the same server: a
 * `redis-server` listening on a unix socket inside the data directory (no
 * TCP port, so no other Redis can be mistaken for it), with the
 * append-only file on. The first command that needs it starts it, as a
 * daemon that outlives the command; a lock file makes two commands starting
 * at once start one server. See docs/redis.md.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, stat, unlink, link } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { RedisUnavailableError } from './errors.js';

/** Where the embedded Redis keeps its files, all under one directory. */
export interface PaylinksHome {
  /** The data directory itself (`PAYLINKS_HOME`). */
  dir: string;
  /** The unix socket the server listens on (its only listener). */
  socket: string;
  /** The server's working directory: the append-only file lives here. */
  dataDir: string;
  pidFile: string;
  logFile: string;
  /** Held while a command starts the server. */
  lockFile: string;
}

/** The longest unix socket path every supported OS accepts (macOS: 104 bytes with the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 103;
/** How long a command waits for the server to start, or for another command starting it, ms. */
const START_TIMEOUT_MS = 30_000;
/** A start lock older than this is stale even if its process id is in use again (a start takes seconds). */
const STALE_LOCK_MS = 60_000;

/**
 * The data directory: `PAYLINKS_HOME`, else `$XDG_DATA_HOME/paylinks`, else
 * `~/.local/share/paylinks`. Always absolute.
 */
export function defaultPaylinksHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME?.trim();
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const dataHome = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME?.trim() || homedir(), '.local', 'share');
  return path.join(dataHome, 'paylinks');
}

export function paylinksHome(dir: string): PaylinksHome {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    socket: path.join(abs, 'redis.sock'),
    dataDir: path.join(abs, 'redis'),
    pidFile: path.join(abs, 'redis.pid'),
    logFile: path.join(abs, 'redis.log'),
    lockFile: path.join(abs, 'redis.start.lock'),
  };
}

export interface EmbeddedRedis {
  /** The socket path, which `connect()` and ioredis take as a URL. */
  url: string;
  home: PaylinksHome;
  /** True when this call started the server. */
  started: boolean;
}

/**
 * The embedded Redis of `dir`, started when it is not running. Never another
 * Redis: when it cannot be started, a {@link RedisUnavailableError} says why
 * and how to get one.
 */
export async function ensureEmbeddedRedis(dir: string): Promise<EmbeddedRedis> {
  const home = paylinksHome(dir);
  if (Buffer.byteLength(home.socket) > MAX_SOCKET_PATH_BYTES) {
    throw new RedisUnavailableError(
      `PAYLINKS_HOME: the embedded Redis listens on ${home.socket}, longer than a unix socket path may be ` +
        `(${Buffer.byteLength(home.socket)} bytes, at most ${MAX_SOCKET_PATH_BYTES}): set PAYLINKS_HOME to a shorter directory, or set REDIS_URL`,
    );
  }
  try {
    await mkdir(home.dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RedisUnavailableError(`PAYLINKS_HOME: cannot create ${home.dataDir}: ${(error as Error).message}`, error);
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if ((await probe(home.socket)) !== 'absent') return { url: home.socket, home, started: false };
    const lock = await tryLock(home.lockFile);
    if (lock) {
      try {
        // Another command may have started it between the probe and the lock.
        if ((await probe(home.socket)) !== 'absent') return { url: home.socket, home, started: false };
        await startServer(home, deadline);
        return { url: home.socket, home, started: true };
      } finally {
        await lock.release();
      }
    }
    if (Date.now() > deadline) {
      throw new RedisUnavailableError(
        `the embedded Redis in ${home.dir} did not answer within ${START_TIMEOUT_MS / 1000} s while another command held ${home.lockFile} ` +
          `(see ${home.logFile}); remove that file if no paylinks command is running, or set REDIS_URL`,
      );
    }
    await sleep(100);
  }
}

/**
 * What listens on the socket: a Redis ready or loading its data (both mean
 * "do not start another"), or nothing.
 */
async function probe(socket: string): Promise<'ready' | 'loading' | 'absent'> {
  return new Promise((resolve) => {
    const conn = createConnection({ path: socket });
    let answer = '';
    const done = (result: 'ready' | 'loading' | 'absent') => {
      conn.destroy();
      clearTimeout(timer);
      resolve(result);
    };
    // Something accepted the connection on our socket: only our server creates it, so a silent one is busy, not absent.
    const timer = setTimeout(() => done(connected ? 'loading' : 'absent'), 2000);
    let connected = false;
    conn.on('connect', () => {
      connected = true;
      conn.write('PING\r\n');
    });
    conn.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') ? 'ready' : 'loading');
    });
    conn.on('error', () => done(connected ? 'loading' : 'absent'));
    conn.on('close', () => {
      if (answer === '') done(connected ? 'loading' : 'absent');
    });
  });
}

interface Lock {
  release(): Promise<void>;
}

/** Takes the start lock (a file made with O_EXCL holding our pid), breaking a stale one; undefined when another holds it. */
async function tryLock(file: string): Promise<Lock | undefined> {
  const mine = `${process.pid} ${randomBytes(6).toString('hex')}\n`;
  try {
    const handle = await open(file, 'wx', 0o600);
    await handle.writeFile(mine);
    await handle.close();
    return {
      release: async () => {
        // Only our own lock: a stale-lock breaker may have replaced it.
        if ((await readFile(file, 'utf8').catch(() => '')) === mine) await unlink(file).catch(() => undefined);
      },
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new RedisUnavailableError(`PAYLINKS_HOME: cannot create ${file}: ${(error as Error).message}`, error);
    }
  }
  await breakIfStale(file);
  return undefined;
}

/** Removes the lock when its process is gone or it is too old. Atomic against other breakers: the rename succeeds for one. */
async function breakIfStale(file: string): Promise<void> {
  const [content, info] = await Promise.all([readFile(file, 'utf8').catch(() => undefined), stat(file).catch(() => undefined)]);
  if (content === undefined || info === undefined) return;
  const pid = Number.parseInt(content, 10);
  const stale = !Number.isInteger(pid) || !alive(pid) || Date.now() - info.mtimeMs > STALE_LOCK_MS;
  if (!stale) return;
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch {
    return; // another command broke it first
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  // Between our read and the rename, another breaker may have put a live lock there: put it back.
  if (moved !== content) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts `redis-server` as a daemon on the home's socket and waits until it is there. */
async function startServer(home: PaylinksHome, deadline: number): Promise<void> {
  const args = [
    '--port', '0',
    '--unixsocket', home.socket,
    '--unixsocketperm', '700',
    '--dir', home.dataDir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'yes',
    '--pidfile', home.pidFile,
    '--logfile', home.logFile,
  ];
  const exit = await new Promise<{ code: number | null; output: string; error?: Error }>((resolve) => {
    let output = '';
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      if (output.length < 4000) output += d.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => resolve({ code: null, output, error }));
    // With --daemonize the first process exits once the daemon is forked.
    child.once('close', (code) => resolve({ code, output }));
  });
  if (exit.error || exit.code !== 0) {
    const why = exit.error
      ? (exit.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'redis-server is not installed (not on the PATH)'
        : exit.error.message
      : `redis-server exited with code ${String(exit.code)}: ${lastLines(exit.output)}`;
    throw new RedisUnavailableError(
      `no Redis: REDIS_URL is not set and the embedded Redis in ${home.dir} could not be started (${why}). ` +
        'Install Redis (e.g. `apt-get install redis-server`, `brew install redis`) or set REDIS_URL to a Redis you run.',
      exit.error,
    );
  }
  while ((await probe(home.socket)) === 'absent') {
    if (Date.now() > deadline) {
      const log = await readFile(home.logFile, 'utf8').catch(() => '');
      throw new RedisUnavailableError(`the embedded Redis in ${home.dir} was started but does not answer on ${home.socket}: ${lastLines(log)} (log: ${home.logFile})`);
    }
    await sleep(50);
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-2).join(' ').slice(0, 400);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops the embedded Redis of `dir` if it runs (SIGTERM to the pid in its
 * pid file: Redis flushes the append-only file and exits), and waits until it
 * is gone, at most `timeoutMs`. Resolves false when none was running.
 */
export async function stopEmbeddedRedis(dir: string, timeoutMs = 10_000): Promise<boolean> {
  const home = paylinksHome(dir);
  // Nothing on the socket: the pid file is left from an earlier server, and its pid may be another process's now.
  if ((await probe(home.socket)) === 'absent') return false;
  const pid = Number.parseInt(await readFile(home.pidFile, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`the embedded Redis in ${home.dir} (pid ${pid}) did not stop within ${timeoutMs} ms`);
    await sleep(50);
  }
  return true;
}
