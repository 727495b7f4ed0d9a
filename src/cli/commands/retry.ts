/** `paylinks retry BATCH`: queue the failed rows again. */
import type { Command } from 'commander';
import { retryFailedRows } from '../../pipeline/retry-rows.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

export function addRetryCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('retry'), 'redis')
    .description('Queue the failed rows of a batch again (the ledger still guards against duplicates).')
    .argument('<batch>', 'batch id')
    .action(
      action(setExit, async ({ config, logger }, batchId: string) =>
        withBackend(config, logger, async ({ store, queue }) => {
          const result = await retryFailedRows(store, queue, batchId);
          await out(`${result.requeued} failed row(s) of batch ${batchId} queued again`);
          return EXIT.OK;
        }),
      ),
    );
}
