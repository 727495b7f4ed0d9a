/** `paylinks run FILE`: validate, submit, work and collect in this process. */
import type { Command } from 'commander';
import { PROCESSORS } from '../../../jobs/index.js';
import { runFile } from '../../pipeline/run.js';
import { action, out, type SetExit } from '../action.js';
import { exitCodeForBatch } from '../exit-codes.js';
import { intakeOptions, withConfigFlags, withInputFlags } from '../flags.js';
import { interruption } from '../interruption.js';
import { createProgress, formatSummary } from '../progress.js';

export function addRunCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(withInputFlags(program.command('run')), 'all')
    .description('Validate, submit, work and collect one file in this process; write the output CSV.')
    .argument('<file>', 'invoice file: CSV or Excel workbook (.xlsx)')
    .option('-o, --output <file>', 'output file: CSV, or an Excel workbook when it ends in .xlsx (default: the input with .out.csv)')
    .option('--send', 'once the batch finished, send each customer their link and wait for those messages (needs an e-mail address column, PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM)')
    .option('--simulate', 'start the Paywint simulator in this process and use it (no credentials needed)')
    .addHelpText('after', '\nExit codes: 0 every row created or exists, 1 some rows not, 2 fatal error, 130/143 interrupted (run it again to resume).')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const stop = interruption();
        const progress = createProgress({ logger });
        try {
          const result = await runFile({
            file,
            output: opts.output as string | undefined,
            ...intakeOptions(opts),
            config,
            simulate: opts.simulate === true,
            send: opts.send === true,
            logger,
            processors: PROCESSORS,
            signal: stop.signal,
            onBatch: (b) => logger.info({ batchId: b.batchId, rows: b.rows, valid: b.valid }, b.resumed ? 'resuming the unfinished batch of this file' : 'batch submitted'),
            onProgress: (b) => progress.update(b),
          });
          progress.stop();
          await out(formatSummary(result.batch, { durationMs: result.durationMs, outputFile: result.outputFile }));
          return result.interrupted ? stop.exitCode() : exitCodeForBatch(result.batch.state);
        } finally {
          progress.stop();
          stop.dispose();
        }
      }),
    );
}
