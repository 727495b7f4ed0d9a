/**
 * The simulator's ledger: every link it created, in order, and the counts of
 * what it was asked and answered. Tests read it to check that each invoice was
 * created exactly once; the ledger never de-duplicates invoice numbers.
 */
import { randomUUID } from 'node:crypto';

export interface LedgerEntry {
  paymentId: string;
  paymentLink: string;
  invoiceNumber: string | null;
  /** The amount as received, e.g. `"150.75"` (the JSON literal when it could be recovered). */
  amount: string;
  amountCents: number;
  description: string | null;
  /** ISO 8601. */
  createdAt: string;
}

/** A valid create request, as the ledger records it. */
export type NewLink = Pick<LedgerEntry, 'amount' | 'amountCents' | 'description' | 'invoiceNumber'>;

export interface SimulatorStats {
  /** Requests to the Paywint API (every endpoint; not the `/__simulator` ones). */
  requests: number;
  /** Answers by HTTP status, e.g. `{"200": 98, "429": 2}`. */
  byStatus: Record<string, number>;
  /** Links created. */
  created: number;
  /** Requests left unanswered on purpose (`hangRate`). */
  hung: number;
  /** Connections destroyed on purpose (`dropRate`). */
  dropped: number;
  /** Arrival time (`Date.now()`) of every create request, for rate-limit checks. */
  requestTimesMs: number[];
  /** Arrival time of every payment read (`GET get/{id}`, the received list), for the sweep's share of the rate limit. */
  readTimesMs: number[];
  /** TCP connections accepted (keep-alive: far fewer than requests). */
  connections: number;
  /**
   * Arrival time of every request to the Paywint API (every endpoint, answered or not, 429s included), in
   * milliseconds since the epoch with a fraction (the simulator's monotonic clock), in arrival order.
   */
  arrivalsMs: number[];
  /** The busiest sliding second: the most API requests that arrived within any 1,000 ms ([t, t + 1000)), and its t. */
  busiestSecond: { requests: number; fromMs: number | null };
  /** Every 429 answered: when it was sent (ms since the epoch, as `arrivalsMs`) and its `Retry-After`, in ms. */
  rateLimitedAnswers: { atMs: number; retryAfterMs: number }[];
  /**
   * The longest the simulator's own event loop was held up since the start or the last reset, in ms (a busy
   * machine: no core for its process). Arrival stamps may be late, and bunch up, by as much.
   */
  stampDelayMaxMs: number;
}

/** The most arrivals within any `windowMs` ([t, t + windowMs)) of sorted times, and the first such t. */
export function busiestWindow(sortedMs: readonly number[], windowMs = 1000): { requests: number; fromMs: number | null } {
  let most = 0;
  let fromMs: number | null = null;
  for (let i = 0, j = 0; i < sortedMs.length; i += 1) {
    while (sortedMs[i]! - sortedMs[j]! >= windowMs) j += 1;
    if (i - j + 1 > most) {
      most = i - j + 1;
      fromMs = sortedMs[j]!;
    }
  }
  return { requests: most, fromMs };
}

/** Now, in milliseconds since the epoch with a fraction, on a clock that never steps back. */
export function preciseNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The links created and the stats, cleared together by {@link SimulatorLedger.reset}. */
export class SimulatorLedger {
  readonly #linkBaseUrl: string;
  #entries: LedgerEntry[] = [];
  #byId = new Map<string, LedgerEntry>();
  #stats = emptyStats();

  /** Links are `<linkBaseUrl>/<payment id>`. */
  constructor(linkBaseUrl: string) {
    this.#linkBaseUrl = linkBaseUrl;
  }

  /** Creates a link with a fresh payment id. */
  create(input: NewLink): LedgerEntry {
    const paymentId = randomUUID();
    const entry: LedgerEntry = {
      paymentId,
      paymentLink: `${this.#linkBaseUrl}/${paymentId}`,
      invoiceNumber: input.invoiceNumber,
      amount: input.amount,
      amountCents: input.amountCents,
      description: input.description,
      createdAt: new Date().toISOString(),
    };
    this.#entries.push(entry);
    this.#byId.set(paymentId, entry);
    this.#stats.created += 1;
    return entry;
  }

  /** The entry of a payment id (lower case), if created. */
  find(paymentId: string): LedgerEntry | undefined {
    return this.#byId.get(paymentId);
  }

  /** One page of entries in creation order (page 1 first), and the total. */
  page(pageNo: number, rowsPerPage: number): { total: number; entries: readonly LedgerEntry[] } {
    return { total: this.#entries.length, entries: this.#entries.slice((pageNo - 1) * rowsPerPage, pageNo * rowsPerPage) };
  }

  /** The entries from `index` on, in creation order (not copies: read only). */
  since(index: number): readonly LedgerEntry[] {
    return this.#entries.slice(index);
  }

  /** Copies of every entry, in creation order. */
  entries(): LedgerEntry[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /** Counts a request to the Paywint API; a create's arrival time is kept too. */
  countRequest(isCreate: boolean, nowMs: number): void {
    this.#stats.requests += 1;
    if (isCreate) this.#stats.requestTimesMs.push(nowMs);
    else this.#stats.readTimesMs.push(nowMs);
  }

  /** Stamps the arrival of a request to the Paywint API. */
  countArrival(atMs: number): void {
    this.#stats.arrivalsMs.push(atMs);
  }

  /** Records a 429 answer and its `Retry-After`. */
  countRateLimited(atMs: number, retryAfterSeconds: number): void {
    this.#stats.rateLimitedAnswers.push({ atMs, retryAfterMs: retryAfterSeconds * 1000 });
  }

  countStatus(status: number): void {
    this.#stats.byStatus[status] = (this.#stats.byStatus[status] ?? 0) + 1;
  }

  countConnection(): void {
    this.#stats.connections += 1;
  }

  countHung(): void {
    this.#stats.hung += 1;
  }

  countDropped(): void {
    this.#stats.dropped += 1;
  }

  /** A copy of the stats (but the simulator's event-loop delay, which the server measures). */
  stats(): Omit<SimulatorStats, 'stampDelayMaxMs'> {
    const stats = this.#stats;
    return {
      ...stats,
      byStatus: { ...stats.byStatus },
      requestTimesMs: [...stats.requestTimesMs],
      readTimesMs: [...stats.readTimesMs],
      arrivalsMs: [...stats.arrivalsMs],
      busiestSecond: busiestWindow(stats.arrivalsMs),
      rateLimitedAnswers: stats.rateLimitedAnswers.map((a) => ({ ...a })),
    };
  }

  /** Clears the entries and the stats. */
  reset(): void {
    this.#entries = [];
    this.#byId = new Map();
    this.#stats = emptyStats();
  }
}

function emptyStats(): Omit<SimulatorStats, 'stampDelayMaxMs'> {
  return {
    requests: 0,
    byStatus: {},
    created: 0,
    hung: 0,
    dropped: 0,
    requestTimesMs: [],
    readTimesMs: [],
    connections: 0,
    arrivalsMs: [],
    busiestSecond: { requests: 0, fromMs: null },
    rateLimitedAnswers: [],
  };
}
