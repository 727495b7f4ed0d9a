/**
 * Finish events: one per finish of a batch (`<batch>-f<n>`), recorded in
 * Redis by whichever process saw the batch finish, until the notifier has
 * turned it into notifications (see notifier.ts). A batch that finishes its
 * last row records its event in the same step (scripts/finish-rows.ts); a
 * stopped batch records it through {@link FinishEvents.recordStopped}.
 */
import type { RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { STOPPED_FINISH } from './scripts/stopped-finish.js';

export class FinishEvents {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /**
   * Records the finish event of a stopped batch (cancelled or failed) once
   * (nothing when it has one, or runs again). Only for a batch whose rows are
   * all accounted for: see BatchStore.settleStopped.
   */
  async recordStopped(batchId: string): Promise<void> {
    await STOPPED_FINISH.run(this.redis, [this.keys.batch(batchId), this.keys.finishEvents()], [Date.now()]);
  }

  /** Events not yet turned into notifications, oldest first. */
  async pending(limit: number): Promise<{ eventId: string; batchId: string }[]> {
    const ids = await this.redis.zrange(this.keys.finishEvents(), '0', String(limit - 1));
    return ids.map((eventId) => ({ eventId, batchId: eventId.replace(/-f\d+$/, '') }));
  }

  /** Forgets an event once its notifications are queued. */
  async settle(eventId: string): Promise<void> {
    await this.redis.zrem(this.keys.finishEvents(), eventId);
  }
}
