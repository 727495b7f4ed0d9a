/** `paylinks retry BATCH [--include-unknown]`: queue the failed rows again. */
import type { Command } from 'commander';
import { retryFailedRows } from '../../pipeline/retry-rows.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

export function addRetryCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('retry'), 'redis')
    .description('Queue the failed rows of a batch again (the ledger still guards against duplicates).')
    .argument('<batch>', 'batch id')
    .option('--include-unknown', 'also the rows that failed UNKNOWN_OUTCOME (Paywint may hold a link for them): send each once more, once you have looked for its link at Paywint')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string) =>
        withBackend(config, logger, async ({ store, queue }) => {
          const result = await retryFailedRows(store, queue, batchId, { includeUnknown: opts.includeUnknown === true });
          await out(`${result.requeued} failed row(s) of batch ${batchId} queued again`);
          if (result.unknownLeft > 0) {
            await out(
              `${result.unknownLeft} row(s) failed UNKNOWN_OUTCOME were left: their requests got no clear answer, so Paywint may hold a link for them. ` +
                `Look for those links at Paywint; to send each once more: paylinks retry ${batchId} --include-unknown`,
            );
          }
          return EXIT.OK;
        }),
      ),
    );
}
