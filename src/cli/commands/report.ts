/** `paylinks report BATCH`: the reconciliation report (who paid, who has not, exceptions), from any machine that reaches Redis. */
import type { Command } from 'commander';
import { formatOfFile, openReport, passReport, summaryLines, toJson, writeReportCsv, writeReportFile } from '../../pipeline/report/index.js';
import { action, out, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

export function addReportCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('report'), 'redis')
    .description("A batch's reconciliation report: every row with its link's payment status (paid, unpaid, expired...) and exceptions, as CSV (stdout, or -o FILE.csv|FILE.xlsx); --json: the summary.")
    .argument('<batch>', 'batch id')
    .option('-o, --output <file>', 'write the rows to this file: CSV, or an Excel workbook when it ends in .xlsx (default: CSV to stdout)')
    .option('--json', 'print the summary and the exceptions as one JSON object (no rows)')
    .addHelpText('after', '\nExit codes: 0 written, 2 fatal (no such batch: BATCH_NOT_FOUND).')
    .action(
      action(setExit, async ({ config, logger, opts }, batchId: string) =>
        withBackend(config, logger, async ({ redis, keys, store }) => {
          const report = await openReport({ redis, keys, store }, batchId);
          const file = opts.output as string | undefined;
          if (opts.json) {
            const totals = file ? await writeReportFile(report, file) : await passReport(report);
            const listed = report.source === 'batch' ? totals.summary.rows : totals.summary.links;
            await out(JSON.stringify(toJson(report, totals, undefined, listed, { offset: 0, limit: 0 })));
            return EXIT.OK;
          }
          if (!file) {
            await writeReportCsv(report, process.stdout);
            return EXIT.OK;
          }
          const totals = await writeReportFile(report, file);
          const lines = summaryLines(report, totals).map((l) => l.join('  '));
          await out(`${formatOfFile(file) === 'xlsx' ? 'Workbook' : 'CSV'} written to ${file}\n${lines.join('\n')}`);
          return EXIT.OK;
        }),
      ),
    );
}

