/**
 * Real processes for tests: `paylinks worker`, `paylinks submit`, `collect`,
 * `run`, and `redis-server`, each spawned as a user would start it, with what
 * it printed kept for the assertions and a way to kill it.
 *
 * Every process spawned here is remembered until {@link killSpawned} (call it
 * in `afterEach`), which kills the ones still running, by their own handle.
 *
 * The CLI runs from `dist/` (bin/paylinks.js): run `npm run build` first; an
 * out-of-date dist/ fails the first spawn saying so (see built.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { startRedisServer, type RedisServer } from '../../src/core/redis.js';
import type { SimulatorStats } from '../../src/paywint/simulator/index.js';
import { assertBuilt } from './built.js';
import { REPO_ROOT } from './cli.js';

const BIN = path.join(REPO_ROOT, 'bin', 'paylinks.js');

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  /** For messages: e.g. `worker#2`. */
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once it exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
  /** Sends a signal (no-op once it exited). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the first stderr or stdout line matching `pattern`; rejects if it exits or the time runs out first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface SpawnOptions {
  /** The whole environment (nothing is inherited but PATH, HOME and the like; see {@link baseEnv}). */
  env: Record<string, string>;
  /** Working directory. Default: a fresh temporary directory (so no `.env` file is read). */
  cwd?: string;
  name?: string;
}

const spawned = new Set<SpawnedProcess>();

/**
 * The few variables a process needs to run; never the caller's PAYWINT_* or REDIS_URL.
 * `PAYLINKS_HOME` is the test run's (see setup/redis-global.ts), never the user's.
 */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.PAYLINKS_HOME = inject('paylinksHome');
  return env;
}

/** One empty directory for every spawned process (no `.env` there), reused across runs. */
async function neutralCwd(): Promise<string> {
  const dir = path.join(tmpdir(), 'paylinks-test-empty-cwd');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Spawns `node bin/paylinks.js ...args`. */
export async function spawnCli(args: readonly string[], options: SpawnOptions): Promise<SpawnedProcess> {
  // Never old code: dist/ must be built from the sources as they are now.
  await assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? (await neutralCwd()),
    env: { ...baseEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, options.name ?? `paylinks ${args[0] ?? ''}`);
}

function track(child: ChildProcess, name: string): SpawnedProcess {
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    notify();
  });
  let done = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
    // 'close': the output pipes are drained too.
    child.once('close', (code, signal) => {
      done = true;
      notify();
      resolve({ code, signal });
    });
  });
  const handle: SpawnedProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => !done && child.exitCode === null && child.signalCode === null,
    signal: (sig) => {
      if (handle.running()) child.kill(sig);
    },
    waitForLine: (pattern, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = `${err}\n${out}`.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            finish();
            resolve(line);
          } else if (done) {
            finish();
            reject(new Error(`${name} exited before printing ${pattern}:\n${tail(err)}\n${tail(out)}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${tail(err)}\n${tail(out)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
  spawned.add(handle);
  void exited.then(() => spawned.delete(handle));
  return handle;
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a command to its end: exit code, output, and how long it took. */
export async function runCliToEnd(
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number },
): Promise<ProcessExit & { stdout: string; stderr: string; durationMs: number }> {
  const started = Date.now();
  const proc = await spawnCli(args, options);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => proc.signal('SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  if (exit.signal === 'SIGKILL') throw new Error(`paylinks ${args.join(' ')} did not end within ${timeoutMs} ms:\n${tail(proc.stderr())}`);
  return { ...exit, stdout: proc.stdout(), stderr: proc.stderr(), durationMs: Date.now() - started };
}

/**
 * Starts `paylinks worker` and waits for its "worker ready" log line.
 * `PAYLINKS_METRICS_PORT` defaults to 0 (any free port) so workers never collide.
 */
export async function startWorkerProcess(env: Record<string, string>, name = 'worker', readyTimeoutMs = 30_000): Promise<SpawnedProcess> {
  const proc = await spawnCli(['worker'], { env: { PAYLINKS_METRICS_PORT: '0', ...env }, name });
  await proc.waitForLine(/"msg":"worker ready"/, readyTimeoutMs);
  return proc;
}

/** `kill -9`: resolves once the process is gone. */
export async function kill9(proc: SpawnedProcess): Promise<ProcessExit> {
  proc.signal('SIGKILL');
  return proc.exited;
}

/** Kills (SIGKILL) every process spawned here that still runs. For `afterEach`. */
export async function killSpawned(): Promise<void> {
  const live = [...spawned];
  for (const p of live) p.signal('SIGKILL');
  await Promise.all(live.map((p) => p.exited));
}

/** The JSON log lines (pino) a process wrote. */
export function logLines(text: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by a kill -9: not a log line
    }
  }
  return lines;
}

/** Polls `condition` until it holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A private redis-server (never the shared one): its data dir and port survive a restart. */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  /** The running server (a new one after {@link OwnRedis.restart}). */
  readonly server: RedisServer;
  /** Kills it with `sig` and waits until it is gone. */
  kill(sig: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port and data dir (the append-only file brings the data back). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(dataDir: string, port?: number, extraArgs: string[] = []): Promise<OwnRedis> {
  let server = await startRedisServer({ dataDir, port, appendOnly: true, extraArgs });
  const own: OwnRedis = {
    port: server.port,
    url: server.url,
    dataDir,
    get server() {
      return server;
    },
    kill: async (sig) => {
      const child = server.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(sig);
      await gone;
    },
    restart: async () => {
      // The port can stay busy for a moment after a kill: try for a while.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          server = await startRedisServer({ dataDir, port: own.port, appendOnly: true, extraArgs });
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(200);
        }
      }
    },
    stop: () => server.stop(),
  };
  return own;
}

/**
 * Starts `paylinks serve --inbox DIR` (the API on any free port, the workers,
 * the drop folder) and waits until it listens and looks at the folder.
 */
export async function startInboxProcess(dir: string, env: Record<string, string>, name = 'serve --inbox', readyTimeoutMs = 30_000): Promise<SpawnedProcess> {
  const proc = await spawnCli(['serve', '--port', '0', '--inbox', dir], { env, name });
  await proc.waitForLine(/"msg":"drop folder ready"/, readyTimeoutMs);
  await proc.waitForLine(/paylinks serving on http:\/\//, readyTimeoutMs);
  return proc;
}

/** `paylinks simulate` in its own process: its URL, its stats and fault controls over HTTP. */
export interface SimulatorProcess {
  url: string;
  proc: SpawnedProcess;
  stats(): Promise<SimulatorStats>;
  faults(faults: Record<string, number>): Promise<void>;
}

/**
 * Starts `paylinks simulate --port 0 ...args` accepting `apiKey` and `apiSecret`, so that its arrival stamps
 * depend on its own event loop alone (not on the test's, nor on paylinks' when paylinks runs in the test).
 */
export async function startSimulatorProcess(apiKey: string, apiSecret: string, args: readonly string[] = []): Promise<SimulatorProcess> {
  const proc = await spawnCli(['simulate', '--port', '0', '--api-key', apiKey, ...args], {
    env: { PAYWINT_API_SECRET: apiSecret, PAYLINKS_LOG_LEVEL: 'warn' },
    name: 'paylinks simulate',
  });
  // Paywint runs on machines of its own: at normal priority (where allowed), its stamps do not wait for a core
  // behind a test run under `nice`.
  try {
    setPriority(proc.pid, 0);
  } catch {
    // not allowed to raise a priority: stamps may be late when the machine is busy
  }
  const line = await proc.waitForLine(/Paywint simulator on http:\/\/127\.0\.0\.1:\d+/);
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
  return {
    url,
    proc,
    stats: async () => (await (await fetch(`${url}/__simulator/stats`)).json()) as SimulatorStats,
    faults: async (faults) => {
      const res = await fetch(`${url}/__simulator/faults`, { method: 'POST', body: JSON.stringify(faults), headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`simulator faults ${JSON.stringify(faults)}: ${res.status} ${await res.text()}`);
    },
  };
}
