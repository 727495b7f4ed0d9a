/** `paylinks status [BATCH]`: counts by status, rate, ETA; with no batch, the recent batches. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { isFinished } from '../../pipeline/collector.js';
import { describeProgress, formatBatchList, formatStatus, getBatchStatus, listRecentBatches, statusToJson } from '../../pipeline/status.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addStatusCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('status'), 'redis')
    .description('Where a batch stands (counts by status, rate, ETA); with no batch, the recent batches.')
    .argument('[batch]', 'batch id')
    .option('--json', 'print JSON')
    .option('--watch', 'refresh every 2 seconds until the batch finishes')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string | undefined) =>
        withBackend(config, logger, async ({ store }) => {
          if (!batchId) {
            const batches = await listRecentBatches(store);
            await out(opts.json ? JSON.stringify(batches.map((b) => statusToJson(describeProgress(b)))) : formatBatchList(batches));
            return EXIT.OK;
          }
          const stop = interruption();
          try {
            for (;;) {
              const status = await getBatchStatus(store, batchId);
              const text = opts.json ? JSON.stringify(statusToJson(status)) : formatStatus(status);
              await out(opts.watch && process.stdout.isTTY ? `\x1b[2J\x1b[H${text}` : text);
              if (!opts.watch || isFinished(status.batch) || stop.signal.aborted) return EXIT.OK;
              await sleep(2000, undefined, { signal: stop.signal }).catch(() => undefined);
            }
          } finally {
            stop.dispose();
          }
        }),
      ),
    );
}
