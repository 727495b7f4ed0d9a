/** `paylinks submit FILE`: validate, create the batch, queue its rows; print the batch id. */
import type { Command } from 'commander';
import { submitFile, submitResultToJson } from '../../pipeline/producer.js';
import { action, out, requireAccount, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { requireMail } from '../../core/config.js';
import { intakeOptions, withConfigFlags, withInputFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addSubmitCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(withInputFlags(program.command('submit')), 'redis')
    .description('Validate a file, create its batch and queue its rows for the workers; print the batch id and exit.')
    .argument('<file>', 'invoice file: CSV or Excel workbook (.xlsx)')
    .option('--json', 'print one JSON object')
    .option('--send', 'once the batch finishes, send each customer their link (needs an e-mail address column, PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM)')
    .addHelpText('after', '\nNeeds PAYWINT_API_KEY (the account the batch runs under), not the secret.\nExit codes: 0 submitted, every row valid; 1 submitted, some rows invalid; 2 nothing submitted.')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const account = requireAccount(config);
        if (opts.send) requireMail(config.mail);
        // SIGINT/SIGTERM stop the read of the file at once (the batch, if created, is marked failed); exit 130/143.
        const stop = interruption();
        let result;
        try {
          result = await withBackend(config, logger, (b) =>
            submitFile(file, { redis: b.redis, store: b.store, queue: b.queue, account, logger, send: opts.send === true, ...intakeOptions(opts), signal: stop.signal }),
          );
        } catch (error) {
          if (stop.signal.aborted) return stop.exitCode();
          throw error;
        } finally {
          stop.dispose();
        }
        await out(
          opts.json
            ? JSON.stringify(submitResultToJson(result))
            : `${result.batchId}\n(${result.rows} rows: ${result.valid} queued, ${result.invalid} invalid or duplicate)`,
        );
        return result.invalid === 0 ? EXIT.OK : EXIT.ROWS_FAILED;
      }),
    );
}
