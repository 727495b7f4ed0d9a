/**
 * The simulator's fault injection: the settings (checked, changeable at run
 * time), the server-side rate limit, and every random draw made from them
 * (which fault a request meets, the 500 or the 503, the latency and jitter).
 * One random source serves all draws, so a seeded run repeats exactly.
 */
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';

export interface SimulatorFaults {
  /** Fixed latency before each API answer, in milliseconds. Default 0. */
  latencyMs: number;
  /** Random extra latency, 0 to this many milliseconds. Default 0. */
  jitterMs: number;
  /** Probability of a 500 or a 503 (half each); the link is not created. Default 0. */
  errorRate: number;
  /** Probability of a 429 with `Retry-After`; the link is not created. Default 0. */
  rateLimitedRate: number;
  /** `Retry-After` of injected 429s, in seconds. Default 1. */
  retryAfterSeconds: number;
  /** Probability of creating the link, then never answering (the socket stays open). Default 0. */
  hangRate: number;
  /** Probability of creating the link, then destroying the socket without an answer. Default 0. */
  dropRate: number;
  /** Probability that a payment read (get, each record of a list) gives an amount finer than a cent (`150.755`). Default 0. */
  badAmountRate: number;
  /** Server-side limit in requests per second (sliding 1 s window), answered 429 with `Retry-After`; 0 for none. Default 0. */
  rateLimitPerSecond: number;
}

/** What one request meets, drawn once per request. */
export type Fault = 'none' | 'error' | 'rate-limited' | 'hang' | 'drop';

const DEFAULT_FAULTS: SimulatorFaults = {
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  rateLimitedRate: 0,
  retryAfterSeconds: 1,
  hangRate: 0,
  dropRate: 0,
  badAmountRate: 0,
  rateLimitPerSecond: 0,
};

const probability = z.number().min(0).max(1);
const nonNegative = z.number().min(0).max(86_400_000);
const FaultsSchema = z
  .object({
    latencyMs: nonNegative,
    jitterMs: nonNegative,
    errorRate: probability,
    rateLimitedRate: probability,
    retryAfterSeconds: z.number().min(0).max(86_400),
    hangRate: probability,
    dropRate: probability,
    badAmountRate: probability,
    rateLimitPerSecond: z.number().min(0).max(1_000_000),
  })
  .partial()
  .strict();

/** The fault settings in force and the decisions drawn from them. */
export class FaultInjector {
  readonly #faults: SimulatorFaults;
  readonly #random: () => number;
  #limiter: SlidingWindowLimiter;

  /** Throws a {@link ConfigError} naming the first bad fault option. */
  constructor(initial: Partial<SimulatorFaults>, seed: number | undefined) {
    this.#faults = { ...DEFAULT_FAULTS, ...checkFaults(pickFaults(initial), 'option') };
    this.#random = seed === undefined ? Math.random : seededRandom(seed);
    this.#limiter = new SlidingWindowLimiter(this.#faults.rateLimitPerSecond);
  }

  /** A copy of the settings in force. */
  settings(): SimulatorFaults {
    return { ...this.#faults };
  }

  /**
   * Changes the named faults (unnamed ones keep their value); `kind` names
   * where they came from in the {@link ConfigError} for a bad one.
   */
  set(next: unknown, kind: 'option' | 'field'): void {
    const checked = checkFaults(next, kind);
    Object.assign(this.#faults, checked);
    if (checked.rateLimitPerSecond !== undefined) this.resetWindow();
  }

  /** Forgets the requests counted by the rate limit. */
  resetWindow(): void {
    this.#limiter = new SlidingWindowLimiter(this.#faults.rateLimitPerSecond);
  }

  /** 0 when the rate limit admits the request (and counts it), else milliseconds until a slot frees. */
  admit(nowMs: number): number {
    return this.#limiter.admit(nowMs);
  }

  draw(): Fault {
    const { errorRate, rateLimitedRate, hangRate, dropRate } = this.#faults;
    if (errorRate + rateLimitedRate + hangRate + dropRate === 0) return 'none';
    const r = this.#random();
    if (r < errorRate) return 'error';
    if (r < errorRate + rateLimitedRate) return 'rate-limited';
    if (r < errorRate + rateLimitedRate + hangRate) return 'hang';
    if (r < errorRate + rateLimitedRate + hangRate + dropRate) return 'drop';
    return 'none';
  }

  /** Whether this payment read gets an amount finer than a cent. */
  badAmount(): boolean {
    const rate = this.#faults.badAmountRate;
    return rate > 0 && this.#random() < rate;
  }

  /** The status of an injected server error: 500 or 503, half each. */
  errorStatus(): 500 | 503 {
    return this.#random() < 0.5 ? 500 : 503;
  }

  /** `Retry-After` of an injected 429, in seconds. */
  retryAfterSeconds(): number {
    return this.#faults.retryAfterSeconds;
  }

  /** The latency of one answer: the fixed part plus a fresh jitter draw. */
  delayMs(): number {
    const { latencyMs, jitterMs } = this.#faults;
    return latencyMs + (jitterMs > 0 ? Math.floor(this.#random() * (jitterMs + 1)) : 0);
  }
}

/**
 * Sliding-window log in a ring: admit when the request `capacity` admissions
 * ago is older than the window. O(1) per request at any rate.
 */
class SlidingWindowLimiter {
  readonly #times: Float64Array;
  readonly #windowMs: number;
  #next = 0;

  constructor(perSecond: number) {
    const capacity = perSecond > 0 ? Math.max(1, Math.round(perSecond)) : 0;
    this.#times = new Float64Array(capacity).fill(Number.NEGATIVE_INFINITY);
    this.#windowMs = capacity > 0 ? (1000 * capacity) / perSecond : 0;
  }

  /** 0 when admitted (and counted), else milliseconds until a slot frees. */
  admit(nowMs: number): number {
    if (this.#times.length === 0) return 0;
    const oldest = this.#times[this.#next]!;
    const freeAt = oldest + this.#windowMs;
    if (freeAt > nowMs) return freeAt - nowMs;
    this.#times[this.#next] = nowMs;
    this.#next = (this.#next + 1) % this.#times.length;
    return 0;
  }
}

/** The fault settings among other options. */
function pickFaults(options: Partial<SimulatorFaults>): Partial<SimulatorFaults> {
  const picked: Partial<SimulatorFaults> = {};
  for (const key of Object.keys(DEFAULT_FAULTS) as (keyof SimulatorFaults)[]) {
    if (options[key] !== undefined) picked[key] = options[key];
  }
  return picked;
}

/** Checks a partial set of faults; a bad one is named in a {@link ConfigError}. */
function checkFaults(value: unknown, kind: 'option' | 'field'): Partial<SimulatorFaults> {
  const result = FaultsSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown fault ${kind} ${name}` : `simulator ${kind} ${name}: ${issue.message}`;
  throw new ConfigError('CONFIG_INVALID', name || 'faults', message);
}
