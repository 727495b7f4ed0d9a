/**
 * The sweep's requests and the rate limit (CONTRACTS.md, seam 3): every
 * request takes a slot of the account's shared schedule, the one link
 * creation uses, so the two together never pass the limit. While a batch is
 * running, the sweep first takes a slot of its own schedule, at the rate
 * limit × its share (`PAYLINKS_PAYMENT_SWEEP_SHARE`), so it never takes more
 * than that share from the batch; with no batch running it may use the whole
 * limit.
 */
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../core/lua.js';
import type { Keys } from '../keys.js';
import { RateLimiter } from '../rate-limiter.js';

/** How long whether a batch is running is trusted, ms. */
const RUNNING_CHECK_MS = 1000;

/** The create-link jobs that mean a batch is under way. */
const BATCH_JOB_STATES = ['active', 'wait', 'prioritized', 'delayed', 'waiting-children'] as const;

export interface SweepPacerOptions {
  redis: RedisClient;
  keys: Keys;
  account: string;
  /** The account's shared schedule (Keys.rateLimit), as link creation takes it. */
  shared: RateLimiter;
  /** `PAYLINKS_RATE_LIMIT`, requests per second. */
  ratePerSecond: number;
  /** `PAYLINKS_PAYMENT_SWEEP_SHARE`, above 0, at most 1. */
  share: number;
  /** Whether a batch is running now (default: create-link jobs in `queue`). */
  batchRunning: () => Promise<boolean>;
}

/** Whether the create-link queue holds a job (a batch is under way). */
export function batchRunningIn(queue: Queue): () => Promise<boolean> {
  return async () => {
    const counts = await queue.getJobCounts(...BATCH_JOB_STATES);
    return Object.values(counts).some((n) => n > 0);
  };
}

export class SweepPacer {
  readonly share: RateLimiter;
  /** Slots taken, and of them those taken under the share. */
  requests = 0;
  sharedOnly = 0;
  #running = { value: false, atMs: -Infinity };
  #checking: Promise<boolean> | undefined;

  constructor(private readonly options: SweepPacerOptions) {
    this.share = new RateLimiter(options.redis, { key: options.keys.paymentSweepRate(options.account), ratePerSecond: options.ratePerSecond * options.share });
  }

  /** Waits for the request's slot(s); call right before each request. */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (await this.batchRunning()) await this.share.acquire(signal);
    else this.sharedOnly += 1;
    await this.options.shared.acquire(signal);
    this.requests += 1;
  }

  /** Paywint said 429: every slot of the shared schedule waits. */
  pause(ms: number): Promise<void> {
    return this.options.shared.pause(ms);
  }

  private async batchRunning(): Promise<boolean> {
    if (Date.now() - this.#running.atMs < RUNNING_CHECK_MS) return this.#running.value;
    this.#checking ??= this.options
      .batchRunning()
      .then((value) => {
        this.#running = { value, atMs: Date.now() };
        return value;
      })
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }
}
