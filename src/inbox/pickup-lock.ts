/**
 * Which process works on a picked-up file: a Redis key per pickup, set only
 * when free, renewed while the process lives, gone a while after it died, so
 * another process on the same folder (or the same one restarted) resumes it.
 */
import { randomBytes } from 'node:crypto';
import { LuaScript, type RedisClient } from '../core/lua.js';
import type { Keys } from '../pipeline/keys.js';

// KEYS: lock. ARGV: token, ms. Renews the lock only while it is ours.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

// KEYS: lock. ARGV: token.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export class PickupLocks {
  /** This process's token: its locks carry it. */
  readonly token = randomBytes(8).toString('hex');

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** How long a lock outlives its last renewal, ms. */
    readonly ttlMs: number,
  ) {}

  /** Takes the pickup's lock if nobody holds it. */
  async acquire(pickupId: string): Promise<boolean> {
    return (await this.redis.set(this.keys.inboxLock(pickupId), this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** Extends the lock; false when it is no longer ours (it expired and another process took it). */
  async renew(pickupId: string): Promise<boolean> {
    return (await RENEW.run(this.redis, [this.keys.inboxLock(pickupId)], [this.token, this.ttlMs])) === 1;
  }

  async release(pickupId: string): Promise<void> {
    await RELEASE.run(this.redis, [this.keys.inboxLock(pickupId)], [this.token]);
  }
}
