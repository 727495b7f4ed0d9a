/** `paylinks cancel BATCH`: stop the remaining rows; keep what was created. */
import type { Command } from 'commander';
import { cancelBatch } from '../../pipeline/cancel.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

export function addCancelCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('cancel'), 'redis')
    .description('Stop the remaining rows of a batch; keep what was created. Its output can still be collected.')
    .argument('<batch>', 'batch id')
    .action(
      action(setExit, async ({ config, logger }, batchId: string) =>
        withBackend(config, logger, async ({ store, queue }) => {
          const result = await cancelBatch(store, queue, batchId);
          await out(result.state === 'cancelled' ? `batch ${batchId} cancelled: ${result.cancelledRows} row(s) taken out of the queue` : `batch ${batchId} is already ${result.state}: nothing to cancel`);
          return EXIT.OK;
        }),
      ),
    );
}
