/**
 * Calls made one by one, sent in groups. The worker uses it so that the rows
 * of a chunk in flight together claim their invoices and record their results
 * with one Redis script call per group rather than one per row.
 *
 * Every call made in the same turn of the event loop for the same key goes
 * out in one call of `send` (at most `maxGroup` items each). While a key has
 * `maxInFlight` groups out, further calls wait and go together as soon as one
 * comes back: the busier the key, the larger its groups, and no call waits
 * longer than one round trip for another.
 */
export interface GroupCallOptions {
  /** Largest group sent in one call. Default 200. */
  maxGroup?: number;
  /** Groups of one key out at once. Default 1. */
  maxInFlight?: number;
  /**
   * Send one turn of the event loop later: calls of other groups made in
   * the same turn go out first (the worker's claims, which rows wait on,
   * before its results, which nothing waits on). Default false.
   */
  deferred?: boolean;
}

interface Settle<O> {
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/** One key's calls waiting to go, and its groups out. */
interface Lane<I, O> {
  items: I[];
  settle: Settle<O>[];
  inFlight: number;
  scheduled: boolean;
}

export class GroupCall<I, O> {
  private readonly maxGroup: number;
  private readonly maxInFlight: number;
  private readonly deferred: boolean;
  private readonly lanes = new Map<string, Lane<I, O>>();

  constructor(
    /** Sends one group; resolves with one output per item, in order. */
    private readonly send: (key: string, items: I[]) => Promise<O[]>,
    options: GroupCallOptions = {},
  ) {
    this.maxGroup = options.maxGroup ?? 200;
    this.maxInFlight = options.maxInFlight ?? 1;
    this.deferred = options.deferred ?? false;
    if (!(this.maxGroup >= 1)) throw new RangeError(`maxGroup must be at least 1, got ${options.maxGroup}`);
    if (!(this.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1, got ${options.maxInFlight}`);
  }

  /** Queues one item under `key`; resolves with its output once its group was sent. */
  call(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (!lane) this.lanes.set(key, (lane = { items: [], settle: [], inFlight: 0, scheduled: false }));
      lane.items.push(item);
      lane.settle.push({ resolve, reject });
      this.schedule(key, lane);
    });
  }

  /** Sends the lane's waiting calls at the end of this turn of the event loop, if a group may go out. */
  private schedule(key: string, lane: Lane<I, O>): void {
    if (lane.scheduled || lane.inFlight >= this.maxInFlight || lane.items.length === 0) return;
    lane.scheduled = true;
    if (this.deferred) setImmediate(() => setImmediate(() => this.flush(key, lane)));
    else setImmediate(() => this.flush(key, lane));
  }

  private flush(key: string, lane: Lane<I, O>): void {
    lane.scheduled = false;
    while (lane.inFlight < this.maxInFlight && lane.items.length > 0) {
      const items = lane.items.splice(0, this.maxGroup);
      const settle = lane.settle.splice(0, this.maxGroup);
      lane.inFlight += 1;
      const done = () => {
        lane.inFlight -= 1;
        if (lane.inFlight === 0 && lane.items.length === 0 && !lane.scheduled) this.lanes.delete(key);
        else this.schedule(key, lane);
      };
      let sent: Promise<O[]>;
      try {
        sent = this.send(key, items);
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        (outputs) => {
          done();
          settle.forEach((s, i) => (i < outputs.length ? s.resolve(outputs[i]!) : s.reject(new Error(`no reply for item ${i} of a group of ${items.length}`))));
        },
        (error: unknown) => {
          done();
          settle.forEach((s) => s.reject(error));
        },
      );
    }
  }
}
