/**
 * A counting semaphore whose waiters are served by priority (lowest first),
 * then in arrival order. The worker holds one slot per row in flight, and
 * gives the earliest chunk job its rows first, so a chunk finishes soon after
 * it starts (its lock, and a crash, concern as few rows as possible).
 *
 * Waiters are kept in one first-in-first-out queue per priority, the queues
 * in priority order: a worker has thousands of rows waiting (every chunk in
 * hand has its lanes) but only as many priorities as chunks, so taking and
 * giving back a slot cost next to nothing. (One sorted array of waiters cost
 * a scan of thousands per row.)
 */
export class Slots {
  private free: number;
  /** Waiting queues by priority. */
  private readonly queues = new Map<number, Queue>();
  /** The priorities with a queue, lowest first. */
  private readonly order: number[] = [];
  private waiting = 0;

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`size must be a whole number from 1, got ${size}`);
    this.free = size;
  }

  /** Waits for a slot; resolves with the function that gives it back (call it once). */
  async acquire(priority = 0): Promise<() => void> {
    if (this.free > 0 && this.waiting === 0) {
      this.free -= 1;
    } else {
      await new Promise<void>((wake) => this.enqueue(priority, wake));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.dequeue();
      if (next) next();
      else this.free += 1;
    };
  }

  private enqueue(priority: number, wake: () => void): void {
    let queue = this.queues.get(priority);
    if (!queue) {
      queue = new Queue();
      this.queues.set(priority, queue);
      // Binary search for its place among the priorities.
      let lo = 0;
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.order[mid]! < priority) lo = mid + 1;
        else hi = mid;
      }
      this.order.splice(lo, 0, priority);
    }
    queue.push(wake);
    this.waiting += 1;
  }

  private dequeue(): (() => void) | undefined {
    if (this.waiting === 0) return undefined;
    const priority = this.order[0]!;
    const queue = this.queues.get(priority)!;
    const wake = queue.shift();
    this.waiting -= 1;
    if (queue.length === 0) {
      this.queues.delete(priority);
      this.order.shift();
    }
    return wake;
  }
}

/** A first-in-first-out queue that takes from its head without moving the rest. */
class Queue {
  private items: (() => void)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: () => void): void {
    this.items.push(item);
  }

  shift(): (() => void) | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head += 1;
    // Drop the taken part once it is half the array.
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
