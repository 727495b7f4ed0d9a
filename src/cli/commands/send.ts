/** `paylinks send BATCH`: queue the messages that send each customer their link (issue 19); `--dry-run` only says what would go. */
import type { Command } from 'commander';
import { openMailQueue } from '../../pipeline/mail-job.js';
import { planSend, startSend, type SendPlan } from '../../mail/sending.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

function describeSkipped(skipped: SendPlan['skipped']): string {
  const parts = Object.entries(skipped).map(([why, n]) => `${n} ${why}`);
  return parts.length === 0 ? '' : ` (not sent: ${parts.join(', ')})`;
}

export function addSendCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('send'), 'redis')
    .description('Send each customer of a finished batch the link to pay their invoice (e-mail; needs PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM). Workers send the messages.')
    .argument('<batch>', 'batch id')
    .option('--dry-run', 'only say how many messages would go out, and show one')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nEach invoice gets its first message once, however often this runs. Exit codes: 0 queued (or nothing left to send), 2 error.')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string) =>
        withBackend(config, logger, async ({ redis, keys, store }) => {
          const queue = openMailQueue(redis, keys);
          try {
            const ctx = { redis, keys, store, queue, settings: config.mail };
            const plan = await planSend(ctx, batchId);
            if (opts.dryRun) {
              await out(opts.json ? JSON.stringify({ will_send: plan.willSend, skipped: plan.skipped, sample: plan.sample }) : `${plan.willSend} message(s) would go out${describeSkipped(plan.skipped)}${plan.sample ? `\nfor example to ${plan.sample.to}: invoice ${plan.sample.fields.invoiceNumber}, ${plan.sample.fields.amount}, ${plan.sample.fields.link}` : ''}`);
              return EXIT.OK;
            }
            const { queued } = await startSend(ctx, batchId);
            await out(opts.json ? JSON.stringify({ batch_id: batchId, queued, skipped: plan.skipped }) : `${queued} message(s) queued for batch ${batchId}${describeSkipped(plan.skipped)}`);
            return EXIT.OK;
          } finally {
            await queue.close();
          }
        }),
      ),
    );
}
