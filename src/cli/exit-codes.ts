/** Exit codes of every command; the README's table is this one. */
import type { BatchState } from '../pipeline/batch-store.js';

export const EXIT = {
  /** Everything asked for was done: every row valid, or created/exists. */
  OK: 0,
  /** The command finished, but some rows are invalid or failed. */
  ROWS_FAILED: 1,
  /** Nothing useful happened: a file error, bad configuration, Redis or Paywint unusable. */
  FATAL: 2,
  /** Bad flags or arguments (commander prints what is wrong). */
  USAGE: 2,
  /** Stopped by SIGINT (128 + 2). The batch is left resumable. */
  SIGINT: 130,
  /** Stopped by SIGTERM (128 + 15). The batch is left resumable. */
  SIGTERM: 143,
} as const;

/** A finished batch: 0 when every row was created or exists, 2 when it was stopped (failed), 1 otherwise. */
export function exitCodeForBatch(state: BatchState): number {
  if (state === 'completed') return EXIT.OK;
  if (state === 'failed') return EXIT.FATAL;
  return EXIT.ROWS_FAILED;
}
