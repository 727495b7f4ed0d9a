/** `paylinks payments sync`: one pass of the payment sweep (the backstop for missed webhooks), then exit. */
import type { Command } from 'commander';
import { formatSweepSummary, syncPayments } from '../../pipeline/payment-sweep/index.js';
import { action, out, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addPaymentsCommand(program: Command, setExit: SetExit): void {
  const payments = program.command('payments').description("Payment statuses of the account's links (PAYWINT_API_KEY).");
  withConfigFlags(payments.command('sync'), 'all')
    .description(
      'One sweep pass, then exit: read the received-payments list down to the payments seen before, then GET the open links (not paid, expired or rejected) ' +
        'made at least PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES ago, oldest first. Its requests share the rate limit with link creation ' +
        '(at most PAYLINKS_PAYMENT_SWEEP_SHARE of it while a batch runs).',
    )
    .option('--batch <id>', "read only this batch's open links")
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', '\nExit codes: 0 done; 1 done but some reads failed (the next pass tries them again), or another process is sweeping; 2 fatal; 130/143 interrupted.')
    .action(
      action(setExit, async ({ config, logger, opts }) => {
        const stop = interruption();
        try {
          const run = await syncPayments({ config, logger, batchId: opts.batch as string | undefined, signal: stop.signal });
          if (!run.ran) {
            const who = run.heldBy ? ` (${run.heldBy.host}, pid ${run.heldBy.pid}, since ${run.heldBy.since})` : '';
            await out(opts.json ? JSON.stringify({ ran: false, heldBy: run.heldBy }) : `Another process is sweeping this account's payments${who}: nothing done.`);
            return EXIT.ROWS_FAILED;
          }
          await out(opts.json ? JSON.stringify({ ran: true, ...run.summary }) : formatSweepSummary(run.summary));
          return run.summary.errors === 0 ? EXIT.OK : EXIT.ROWS_FAILED;
        } catch (error) {
          if (stop.signal.aborted) return stop.exitCode();
          throw error;
        } finally {
          stop.dispose();
        }
      }),
    );
}
