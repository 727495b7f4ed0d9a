/**
 * The shutdown sequence, written once: resources are added as they are
 * opened and released in reverse order, on success, on failure (also when
 * start-up fails half-way) and on a signal. Each release is bounded in time
 * (a cleanup that hangs is left behind, said so, and the next one runs), and
 * every failure is logged the same way. Releasing twice releases once.
 */
import { coerceError } from './errors.js';
import type { Logger } from './logger.js';

/** Closes one resource. */
export type Cleanup = () => unknown;

/** How long one cleanup may take before the next runs anyway, ms, unless it says otherwise. */
export const CLEANUP_TIMEOUT_MS = 30_000;

export class Cleanups {
  private readonly steps: { cleanup: Cleanup; timeoutMs: number }[] = [];
  private releasing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  /**
   * Adds a cleanup: it runs before those added earlier. `timeoutMs` bounds it
   * (default {@link CLEANUP_TIMEOUT_MS}); give one that waits on purpose (a
   * worker finishing its rows) its own bound plus a margin.
   */
  add(cleanup: Cleanup, timeoutMs = CLEANUP_TIMEOUT_MS): void {
    this.steps.push({ cleanup, timeoutMs });
  }

  /** Runs every cleanup, last added first; never rejects. */
  release(): Promise<void> {
    return (this.releasing ??= this.releaseAll());
  }

  private async releaseAll(): Promise<void> {
    for (const { cleanup, timeoutMs } of this.steps.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs).unref();
      });
      try {
        const ended = await Promise.race([Promise.resolve().then(cleanup).then(() => 'done' as const), late]);
        if (ended === 'late') this.logger.warn({ timeoutMs }, 'cleanup did not finish in time: going on');
      } catch (error) {
        this.logger.warn({ err: coerceError(error).message }, 'cleanup failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
