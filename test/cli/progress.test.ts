import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/pipeline/batch-store.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { createProgress, formatSummary } from '../../src/cli/progress.js';
import { Terminal } from '../../src/core/terminal.js';
import { renderScreen } from '../helpers/screen.js';

function batch(done: number, extra: Partial<Batch> = {}): Batch {
  return {
    id: '20261123T120000-abcdef',
    file: 'invoices.csv',
    sha256: 'x',
    account: 'k',
    source: null,
    sourceRef: null,
    layout: { headers: [], invoice: 0, amount: 1, description: null, delimiter: ',', encoding: 'utf-8' },
    rows: 10,
    valid: 10,
    state: 'running',
    createdAt: '',
    submittedAt: null,
    startedAt: null,
    finishedAt: null,
    done,
    counts: { created: done, exists: 0, invalid: 0, duplicate: 0, conflict: 0, failed: 0 },
    createdCents: 123_45,
    existsCents: 0,
    maybeLinked: 0,
    holdExpiresAt: null,
    stopCode: null,
    stopMessage: null,
    ...extra,
  };
}

/** A fake terminal: what was written to it, as a person's screen would receive it. */
function fakeTty() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(stream, { isTTY: true, columns: 100 });
  return { terminal: new Terminal(stream), output: () => text };
}

describe('progress on a terminal', () => {
  it('a log line written while the bar is drawn takes its own line, and the bar and the summary stay whole', async () => {
    const { terminal, output } = fakeTty();
    const logger = createLogger({ pretty: true, terminal });
    logger.info('batch submitted');
    const progress = createProgress({ tty: true, logger, terminal });
    progress.update(batch(3));
    await new Promise((r) => setTimeout(r, 50));
    logger.warn('Redis connection error (will reconnect)');
    progress.update(batch(10));
    progress.stop();
    terminal.stream.write(formatSummary(batch(10, { state: 'completed' }), { durationMs: 1000 }) + '\n');
    logger.info('after the bar');

    const screen = renderScreen(output());
    expect(screen).toHaveLength(7);
    expect(screen[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: batch submitted$/);
    expect(screen[1]).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: Redis connection error \(will reconnect\)$/);
    expect(screen[2]).toMatch(/^ █+ 10\/10 rows \| \d+\/s \| ETA 0s \| failed 0$/);
    expect(screen[3]).toBe('Batch 20261123T120000-abcdef completed: 10 rows (created 10)');
    expect(screen[4]).toMatch(/^Amount linked: 123\.45/);
    expect(screen[5]).toBe('Duration: 1.0 s');
    expect(screen[6]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: after the bar$/);
  });

  it('off a terminal, logs a progress line at most every logEveryMs, and always the last one', () => {
    const lines: unknown[] = [];
    const logger = silentLogger();
    logger.info = ((obj: unknown) => void lines.push(obj)) as typeof logger.info;
    const progress = createProgress({ tty: false, logger, logEveryMs: 60_000 });
    progress.update(batch(1));
    progress.update(batch(5));
    progress.update(batch(10));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ done: 10, rows: 10, failed: 0 });
  });

  it('the summary names the counts, the amount linked and the output', () => {
    const text = formatSummary(batch(10, { state: 'completed' }), { durationMs: 2_500, outputFile: 'invoices.out.csv' });
    expect(text).toBe(
      [
        'Batch 20261123T120000-abcdef completed: 10 rows (created 10)',
        'Amount linked: 123.45 (new 123.45, already linked 0.00)',
        'Duration: 2.5 s',
        'Output: invoices.out.csv',
      ].join('\n'),
    );
  });
});
