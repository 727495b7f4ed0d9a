/**
 * The simulator's webhook delivery: every payment event is POSTed to the
 * configured URL as Paywint documents it (`{event, id, data: {payment_id,
 * status, amount, failed_reason?}, eventGeneratedTime}`), at least once, in no
 * promised order, with the faults the real one has, drawn per event:
 *
 * - `lostRate`: never delivered (the sweep must recover it);
 * - `duplicateRate`: delivered twice (same event id);
 * - `outOfOrderRate`: held back until the next event is sent, then sent after it
 *   (or after `holdMs` when no other event comes);
 * - `lateRate`: sent after `lateMs`;
 * - a non-2xx answer, a timeout or a refused connection is tried again after
 *   `retryDelayMs` × the attempt number, three attempts in all.
 *
 * Without a URL, events are recorded and not sent. `idle()` resolves once
 * nothing is queued, held, late or in flight, so tests can wait for delivery.
 */
import { Pool } from 'undici';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import type { PaymentEvent } from './payments.js';

export interface WebhookSettings {
  /** Where events are POSTed; null: nowhere (recorded only). Default null. */
  url: string | null;
  /** Probability an event is never delivered. Default 0. */
  lostRate: number;
  /** Probability an event is delivered twice. Default 0. */
  duplicateRate: number;
  /** Probability an event is held back and sent after the next one. Default 0. */
  outOfOrderRate: number;
  /** Longest hold of an out-of-order event with no next event, ms. Default 1000. */
  holdMs: number;
  /** Probability an event is sent `lateMs` late. Default 0. */
  lateRate: number;
  /** Delay of a late event, ms. Default 2000. */
  lateMs: number;
  /** Wait before attempt n+1 after a failed attempt n, ms × n. Default 200. */
  retryDelayMs: number;
  /** Time bound of one attempt, ms. Default 5000. */
  timeoutMs: number;
  /**
   * Connections to the receiver at most. Default 1: deliveries leave in the
   * order of the events unless a fault reorders them; more for load tests.
   */
  connections: number;
}

/** What happened to one event. */
export interface WebhookRecord {
  event: PaymentEvent;
  /** `delivered`: a 2xx; `failed`: three attempts without one; `lost`: never sent (fault); `no-url`: none configured; `pending`: not done yet. */
  fate: 'pending' | 'delivered' | 'failed' | 'lost' | 'no-url';
  /** Attempts made, every copy together (a duplicate is a second copy). */
  attempts: number;
  /** The status of every attempt, 0 for no answer. */
  statuses: number[];
  duplicated: boolean;
  outOfOrder: boolean;
  late: boolean;
}

interface Held {
  record: WebhookRecord;
  timer: NodeJS.Timeout | undefined;
}

const MAX_ATTEMPTS = 3;
/** How long after the next event a held one is sent. */
const AFTER_NEXT_MS = 50;
const DEFAULTS: WebhookSettings = {
  url: null,
  lostRate: 0,
  duplicateRate: 0,
  outOfOrderRate: 0,
  holdMs: 1000,
  lateRate: 0,
  lateMs: 2000,
  retryDelayMs: 200,
  timeoutMs: 5000,
  connections: 1,
};
const probability = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(3_600_000);
const SettingsSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).nullable(),
    lostRate: probability,
    duplicateRate: probability,
    outOfOrderRate: probability,
    holdMs: ms,
    lateRate: probability,
    lateMs: ms,
    retryDelayMs: ms,
    timeoutMs: ms.min(1),
    connections: z.number().int().min(1).max(256),
  })
  .partial()
  .strict();

export class WebhookSender {
  readonly #settings: WebhookSettings = { ...DEFAULTS };
  readonly #random: () => number;
  readonly #records: WebhookRecord[] = [];
  /** Held out-of-order events, sent after the next event. */
  #held: Held[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Waits between attempts, resolved early by `close()`. */
  readonly #sleeps = new Map<NodeJS.Timeout, () => void>();
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #pool: { origin: string; connections: number; pool: Pool } | undefined;
  #closed = false;

  /** Throws a {@link ConfigError} naming a bad setting. */
  constructor(settings: Partial<WebhookSettings>, seed: number | undefined) {
    this.set(settings);
    this.#random = seed === undefined ? Math.random : seededRandom(seed + 1);
  }

  /** Changes the named settings; throws a {@link ConfigError} naming a bad one. */
  set(next: Partial<WebhookSettings> | unknown): void {
    const result = SettingsSchema.safeParse(next);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const name = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
      throw new ConfigError('CONFIG_INVALID', name || 'webhooks', `simulator webhook setting ${name}: ${issue.code === 'unrecognized_keys' ? 'unknown' : issue.message}`);
    }
    Object.assign(this.#settings, result.data);
  }

  settings(): WebhookSettings {
    return { ...this.#settings };
  }

  /** Queues an event for delivery, drawing its faults. */
  send(event: PaymentEvent): void {
    const record: WebhookRecord = { event, fate: 'pending', attempts: 0, statuses: [], duplicated: false, outOfOrder: false, late: false };
    this.#records.push(record);
    const s = this.#settings;
    const held = this.#held;
    this.#held = [];
    if (this.#closed || s.url === null) {
      record.fate = 'no-url';
    } else if (this.#draw(s.lostRate)) {
      record.fate = 'lost';
    } else {
      record.duplicated = this.#draw(s.duplicateRate);
      record.late = this.#draw(s.lateRate);
      record.outOfOrder = !record.late && this.#draw(s.outOfOrderRate);
      if (record.late) this.#after(s.lateMs, () => this.#dispatch(record));
      else if (record.outOfOrder) this.#hold(record);
      else this.#dispatch(record);
    }
    // Events held back go after this one (a moment after, so that they arrive after it).
    for (const h of held) {
      if (h.timer !== undefined) {
        clearTimeout(h.timer);
        this.#timers.delete(h.timer);
      }
      this.#after(AFTER_NEXT_MS, () => this.#dispatch(h.record));
    }
    this.#settle();
  }

  /** Every event so far, with what happened to it. */
  records(): WebhookRecord[] {
    return this.#records.map((r) => ({ ...r, statuses: [...r.statuses] }));
  }

  /** Resolves once no event is queued, held, late or in flight. */
  idle(): Promise<void> {
    if (this.#busy() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forgets the records (events in flight finish). */
  reset(): void {
    this.#records.length = 0;
  }

  /** Stops sending: held and late events are dropped, attempts in flight are cut. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#held = [];
    for (const [timer, resolve] of this.#sleeps) {
      clearTimeout(timer);
      resolve();
    }
    this.#sleeps.clear();
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.pool.destroy();
    this.#settle();
  }

  #busy(): number {
    return this.#inFlight + this.#timers.size;
  }

  #settle(): void {
    if (this.#busy() > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  #draw(rate: number): boolean {
    return rate > 0 && this.#random() < rate;
  }

  #after(delayMs: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
      this.#settle();
    }, delayMs);
    this.#timers.add(timer);
    return timer;
  }

  #hold(record: WebhookRecord): void {
    const entry: Held = { record, timer: undefined };
    entry.timer = this.#after(this.#settings.holdMs, () => {
      this.#held = this.#held.filter((h) => h !== entry);
      this.#dispatch(record);
    });
    this.#held.push(entry);
  }

  #dispatch(record: WebhookRecord): void {
    const copies = record.duplicated ? 2 : 1;
    let done = 0;
    let delivered = false;
    for (let copy = 0; copy < copies; copy += 1) {
      this.#inFlight += 1;
      void this.#deliver(record).then((ok) => {
        this.#inFlight -= 1;
        delivered ||= ok;
        done += 1;
        if (done === copies) record.fate = delivered ? 'delivered' : 'failed';
        this.#settle();
      });
    }
  }

  /** Up to three attempts; true once one is answered 2xx. */
  async #deliver(record: WebhookRecord): Promise<boolean> {
    const body = JSON.stringify(record.event);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      if (this.#closed) return false;
      const status = await this.#post(body);
      record.attempts += 1;
      record.statuses.push(status);
      if (status >= 200 && status < 300) return true;
      if (attempt < MAX_ATTEMPTS) await this.#sleep(this.#settings.retryDelayMs * attempt);
    }
    return false;
  }

  /** A wait between attempts (the delivery stays in flight); `close()` ends it at once. */
  #sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeps.delete(timer);
        resolve();
      }, delayMs);
      this.#sleeps.set(timer, resolve);
    });
  }

  /** One POST; its status, or 0 when no answer came. */
  async #post(body: string): Promise<number> {
    const url = this.#settings.url;
    if (url === null) return 0;
    const target = new URL(url);
    const { connections } = this.#settings;
    if (this.#pool?.origin !== target.origin || this.#pool.connections !== connections) {
      void this.#pool?.pool.close();
      this.#pool = { origin: target.origin, connections, pool: new Pool(target.origin, { connections, pipelining: 1 }) };
    }
    try {
      const response = await this.#pool.pool.request({
        method: 'POST',
        path: `${target.pathname}${target.search}`,
        headers: { 'content-type': 'application/json', 'user-agent': 'Paywint-Webhooks (paylinks simulator)' },
        body,
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
      await response.body.dump().catch(() => undefined);
      return response.statusCode;
    } catch {
      return 0;
    }
  }
}
