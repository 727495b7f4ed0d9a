/**
 * Calls made one by one, sent in groups: every call made in the same turn of
 * the event loop for the same key goes out in one call of `send` (at most
 * `maxGroup` items each). The worker uses it so that the rows of a chunk in
 * flight together claim their invoices and record their results with one
 * Redis script call per group rather than one per row.
 */
export interface GroupCallOptions {
  /** Largest group sent in one call. Default 200. */
  maxGroup?: number;
}

interface Pending<I, O> {
  items: I[];
  settle: { resolve: (value: O) => void; reject: (error: unknown) => void }[];
}

export class GroupCall<I, O> {
  private readonly maxGroup: number;
  private pending = new Map<string, Pending<I, O>>();
  private scheduled = false;

  constructor(
    /** Sends one group; resolves with one output per item, in order. */
    private readonly send: (key: string, items: I[]) => Promise<O[]>,
    options: GroupCallOptions = {},
  ) {
    this.maxGroup = options.maxGroup ?? 200;
    if (!(this.maxGroup >= 1)) throw new RangeError(`maxGroup must be at least 1, got ${options.maxGroup}`);
  }

  /** Queues one item under `key`; resolves with its output once its group was sent. */
  call(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let group = this.pending.get(key);
      if (!group) this.pending.set(key, (group = { items: [], settle: [] }));
      group.items.push(item);
      group.settle.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    for (const [key, group] of groups) {
      for (let start = 0; start < group.items.length; start += this.maxGroup) {
        const items = group.items.slice(start, start + this.maxGroup);
        const settle = group.settle.slice(start, start + this.maxGroup);
        this.send(key, items).then(
          (outputs) => settle.forEach((s, i) => (i < outputs.length ? s.resolve(outputs[i]!) : s.reject(new Error(`no reply for item ${i} of a group of ${items.length}`)))),
          (error: unknown) => settle.forEach((s) => s.reject(error)),
        );
      }
    }
  }
}
