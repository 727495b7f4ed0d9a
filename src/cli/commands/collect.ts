/** `paylinks collect BATCH`: the output CSV, from any machine that reaches Redis. */
import type { Command } from 'commander';
import { collectBatch } from '../../pipeline/collector.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { exitCodeForBatch } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';
import { formatSummary } from '../progress.js';

export function addCollectCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('collect'), 'redis')
    .description("Write a batch's output CSV, from any machine that reaches Redis.")
    .argument('<batch>', 'batch id')
    .option('-o, --output <file>', 'output file: CSV, or an Excel workbook when it ends in .xlsx (default: <input name>.out.csv here)')
    .option('--wait', 'wait for the batch to finish first')
    .addHelpText('after', '\nExit codes: 0 every row created or exists, 1 some rows not, 2 fatal (or the batch is not finished and --wait was not given).')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string) =>
        withBackend(config, logger, async ({ store }) => {
          const stop = interruption();
          try {
            const { batch, outputFile } = await collectBatch(store, batchId, { output: opts.output as string | undefined, wait: opts.wait === true, signal: stop.signal });
            const durationMs = Date.parse(batch.finishedAt ?? batch.createdAt) - Date.parse(batch.createdAt) || 0;
            await out(formatSummary(batch, { durationMs, outputFile }));
            return exitCodeForBatch(batch.state);
          } catch (error) {
            if (stop.signal.aborted) return stop.exitCode();
            throw error;
          } finally {
            stop.dispose();
          }
        }),
      ),
    );
}
