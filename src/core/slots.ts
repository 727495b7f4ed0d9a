/**
 * A counting semaphore whose waiters are served by priority (lowest first),
 * then in arrival order. The worker holds one slot per row in flight, and
 * gives the earliest chunk job its rows first, so a chunk finishes soon after
 * it starts (its lock, and a crash, concern as few rows as possible).
 */
export class Slots {
  private free: number;
  private readonly waiters: { priority: number; wake: () => void }[] = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`size must be a whole number from 1, got ${size}`);
    this.free = size;
  }

  /** Waits for a slot; resolves with the function that gives it back (call it once). */
  async acquire(priority = 0): Promise<() => void> {
    if (this.free > 0 && this.waiters.length === 0) {
      this.free -= 1;
    } else {
      await new Promise<void>((wake) => {
        let at = this.waiters.length;
        while (at > 0 && this.waiters[at - 1]!.priority > priority) at -= 1;
        this.waiters.splice(at, 0, { priority, wake });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.wake();
      else this.free += 1;
    };
  }
}
