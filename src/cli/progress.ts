/**
 * Progress of a batch for a person: a live bar on a terminal (rows done of
 * total, rate, ETA, failures so far), a log line every few seconds otherwise;
 * and the summary at the end.
 */
import cliProgress from 'cli-progress';
import type { Batch } from '../pipeline/batch-store.js';
import type { Logger } from '../core/logger.js';
import { formatCents } from '../core/money.js';
import { ROW_STATUSES } from '../pipeline/output.js';
import { maybeLinkedLine } from '../pipeline/status.js';
import { stderrTerminal, type Terminal } from '../core/terminal.js';

export interface ProgressReporter {
  update(batch: Batch): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Draw a bar (default: when stderr is a terminal). */
  tty?: boolean;
  logger: Logger;
  /** Between log lines when not on a terminal, ms. Default 5000. */
  logEveryMs?: number;
  /** Where the bar is drawn. Default: stderr's shared terminal (the pretty logger's too). */
  terminal?: Terminal;
}

function problems(batch: Batch): number {
  return batch.counts.failed + batch.counts.conflict + batch.counts.invalid + batch.counts.duplicate;
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  const tty = options.tty ?? process.stderr.isTTY === true;
  const startedAt = Date.now();
  let firstDone: number | undefined;
  const rate = (batch: Batch) => {
    firstDone ??= batch.done;
    const seconds = (Date.now() - startedAt) / 1000;
    return seconds > 0 ? (batch.done - firstDone) / seconds : 0;
  };

  if (tty) {
    const terminal = options.terminal ?? stderrTerminal;
    const bar = new cliProgress.SingleBar(
      {
        format: ' {bar} {value}/{total} rows | {rate}/s | ETA {eta_formatted} | failed {failed}',
        stream: terminal.stream,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
        // A log line takes the bar's line: the next frame draws the bar again below it.
        forceRedraw: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(batch) {
        const payload = { rate: rate(batch).toFixed(0), failed: problems(batch) };
        if (!started) {
          bar.start(batch.rows, batch.done, payload);
          terminal.setLive(true);
          started = true;
        } else {
          bar.update(batch.done, payload);
        }
      },
      stop() {
        if (!started) return;
        bar.stop();
        terminal.setLive(false);
      },
    };
  }

  let lastLog = 0;
  const every = options.logEveryMs ?? 5000;
  return {
    update(batch) {
      const now = Date.now();
      if (now - lastLog < every && batch.done < batch.rows) return;
      lastLog = now;
      const perSecond = rate(batch);
      const etaSeconds = perSecond > 0 ? Math.round((batch.rows - batch.done) / perSecond) : null;
      options.logger.info({ batchId: batch.id, done: batch.done, rows: batch.rows, perSecond: Math.round(perSecond), etaSeconds, failed: problems(batch) }, 'progress');
    },
    stop() {},
  };
}

/** The end-of-run summary, for a person. */
export function formatSummary(batch: Batch, extra: { durationMs: number; outputFile?: string }): string {
  const counts = ROW_STATUSES.filter((s) => batch.counts[s] > 0)
    .map((s) => `${s} ${batch.counts[s]}`)
    .join(', ');
  const lines = [
    `Batch ${batch.id} ${batch.state}: ${batch.rows} rows (${counts || 'none done'})`,
    `Amount linked: ${formatCents(batch.createdCents + batch.existsCents)} (new ${formatCents(batch.createdCents)}, already linked ${formatCents(batch.existsCents)})`,
    `Duration: ${(extra.durationMs / 1000).toFixed(1)} s`,
  ];
  if (batch.maybeLinked > 0) lines.push(maybeLinkedLine(batch.maybeLinked));
  if (batch.stopMessage) lines.push(`Stopped: ${batch.stopMessage} [${batch.stopCode ?? ''}]`);
  if (extra.outputFile) lines.push(`Output: ${extra.outputFile}`);
  return lines.join('\n');
}
