/**
 * One sweep at a time per account: a Redis lock (its key: Keys.paymentSweepLock)
 * holding who sweeps, taken with SET NX, renewed while the pass runs and
 * released by its holder only (compare and delete). A holder that dies
 * leaves it to expire ({@link SWEEP_LOCK_MS}).
 */
import { hostname } from 'node:os';
import { LuaScript, type RedisClient } from '../../core/lua.js';

/** How long the lock outlives its holder's last renewal, ms (renewed every third of it). */
export const SWEEP_LOCK_MS = 60_000;

// KEYS: lock. ARGV: token, ms. Renews the lock when the token holds it: 1, else 0.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

// KEYS: lock. ARGV: token. Deletes the lock when the token holds it.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Who holds the lock: for the message of a sweep that finds it taken. */
export interface SweepHolder {
  host: string;
  pid: number;
  since: string;
}

export interface HeldSweepLock {
  /** Aborted when the lock was lost (a renewal found another holder, or Redis failed). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** Takes the lock, or says who holds it. */
export async function takeSweepLock(redis: RedisClient, key: string): Promise<HeldSweepLock | { heldBy: SweepHolder | null }> {
  const holder: SweepHolder = { host: hostname().slice(0, 64), pid: process.pid, since: new Date().toISOString() };
  const token = JSON.stringify({ ...holder, nonce: Math.random().toString(36).slice(2) });
  if ((await redis.set(key, token, 'PX', SWEEP_LOCK_MS, 'NX')) !== 'OK') {
    const raw = await redis.get(key);
    try {
      return { heldBy: raw === null ? null : (JSON.parse(raw) as SweepHolder) };
    } catch {
      return { heldBy: null };
    }
  }
  const lost = new AbortController();
  const timer = setInterval(() => {
    RENEW.run(redis, [key], [token, SWEEP_LOCK_MS])
      .then((held) => {
        if (Number(held) !== 1) lost.abort(new Error('the sweep lock was lost'));
      })
      .catch(() => undefined);
  }, SWEEP_LOCK_MS / 3);
  timer.unref();
  return {
    lost: lost.signal,
    release: async () => {
      clearInterval(timer);
      await RELEASE.run(redis, [key], [token]).catch(() => undefined);
    },
  };
}
