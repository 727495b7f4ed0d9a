/** `paylinks validate FILE`: check every row; send nothing. */
import type { Command } from 'commander';
import { formatReport, reportToJson, validateFile } from '../../intake/validate.js';
import { coerceError, InputFileError } from '../../core/errors.js';
import { out, fail, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { intakeOptions, withInputFlags, type Opts } from '../flags.js';
import { interruption } from '../interruption.js';

export function addValidateCommand(program: Command, setExit: SetExit): void {
  withInputFlags(program.command('validate'))
    .description('Check an invoice file without sending anything. Needs neither Redis nor credentials.')
    .argument('<file>', 'invoice file: CSV or Excel workbook (.xlsx)')
    .option('--json', 'print one JSON object instead of a summary')
    .addHelpText('after', '\nExit codes: 0 every row valid, 1 some rows invalid, 2 file error.')
    .action(async (file: string, opts: Opts) => {
      // SIGINT/SIGTERM stop the read at once, whatever the file holds; exit 130/143.
      const stop = interruption();
      try {
        const report = await validateFile(file, { ...intakeOptions(opts), signal: stop.signal });
        await out(opts.json ? JSON.stringify(reportToJson(report)) : formatReport(report));
        setExit(report.invalid === 0 ? EXIT.OK : EXIT.ROWS_FAILED);
      } catch (error) {
        if (stop.signal.aborted) return setExit(stop.exitCode());
        const err = coerceError(error);
        if (opts.json && err instanceof InputFileError) {
          await out(JSON.stringify({ error: { code: err.code, message: err.message, line: err.line ?? null } }));
        }
        setExit(fail(err));
      } finally {
        stop.dispose();
      }
    });
}
