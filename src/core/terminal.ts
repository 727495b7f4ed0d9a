/**
 * The terminal a person watches: on a TTY, log lines and the live progress
 * bar share stderr. A log line written while the bar is drawn takes the
 * bar's line (cleared first), and the bar draws itself again below it on its
 * next frame; without this the two would run into each other on one line.
 */
import type { Writable } from 'node:stream';

/** ANSI: carriage return, then erase the whole line. */
const CLEAR_LINE = '\r\x1b[2K';
/**
 * ANSI (DECSC): save the cursor. The bar restores the cursor saved when it
 * started once it stops; saving again after a log line keeps that on the
 * bar's current line, not on the line the log took.
 */
const SAVE_CURSOR = '\x1b7';

export class Terminal {
  private live = false;

  constructor(readonly stream: Writable = process.stderr) {}

  /** Whether a live line (the progress bar) is drawn at the bottom. */
  setLive(live: boolean): void {
    this.live = live;
  }

  /** Writes finished text (one or more lines ending with a newline). */
  write(text: string): void {
    this.stream.write(this.live ? CLEAR_LINE + text + SAVE_CURSOR : text);
  }
}

/** stderr, shared by the pretty logger and the progress bar of one process. */
export const stderrTerminal = new Terminal();
