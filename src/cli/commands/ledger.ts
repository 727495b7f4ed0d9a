/** `paylinks ledger export|import`: the idempotency ledger as a record. */
import { InvalidArgumentError, type Command } from 'commander';
import { parseDelimiterFlag } from '../../intake/columns.js';
import { exportLedger, formatImportReport, importLedger, importReportToJson, parseIsoInstant } from '../../pipeline/ledger-records.js';
import { action, out, requireAccount, withBackend, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { withConfigFlags } from '../flags.js';

function isoDate(value: string): Date {
  const ms = parseIsoInstant(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected an ISO 8601 date or time such as 2026-11-01 or 2026-11-01T09:30:00Z, got "${value}"`);
  return new Date(ms);
}

export function addLedgerCommand(program: Command, setExit: SetExit): void {
  const ledger = program.command('ledger').description("The idempotency ledger as a record: export it, import links made elsewhere (the account's: PAYWINT_API_KEY).");
  withConfigFlags(ledger.command('export'), 'redis')
    .description('Write the ledger as CSV (invoice_number, amount, description, payment_id, payment_link, created_at, batch, then the payment_status, amount_paid, paid_at, failure_reason, confirmed_at, confirmed_by), to stdout or -o FILE.')
    .option('--since <date>', 'only entries created at or after this ISO 8601 date or time', isoDate)
    .option('-o, --output <file>', 'write to this file (default: stdout)')
    .action(
      action(setExit, async ({ config, logger, opts }) =>
        withBackend(config, logger, async ({ redis, keys }) => {
          const file = opts.output as string | undefined;
          const result = await exportLedger({ redis, keys, account: requireAccount(config), output: file ?? process.stdout, since: opts.since as Date | undefined });
          if (file) await out(`${result.entries} of ${result.scanned} ledger entries written to ${file}`);
          return EXIT.OK;
        }),
      ),
    );
  withConfigFlags(ledger.command('import'), 'redis')
    .description('Load links made before paylinks (or by another tool): their invoices are then reported `exists`, never linked twice.')
    .argument('<file>', 'CSV with invoice_number, amount, description, payment_id, payment_link[, created_at, batch]')
    .option('--delimiter <char>', 'field delimiter (default: detected from the header)', parseDelimiterFlag)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExit codes: 0 imported, 1 some rows bad or conflicting (nothing imported), 2 fatal.')
    .action(
      action(setExit, async ({ config, logger, opts }, file: string) => {
        const report = await withBackend(config, logger, ({ redis, keys }) => importLedger({ redis, keys, account: requireAccount(config), file, delimiter: opts.delimiter as string | undefined }));
        await out(opts.json ? JSON.stringify(importReportToJson(report)) : formatImportReport(report));
        return report.problems.length === 0 ? EXIT.OK : EXIT.ROWS_FAILED;
      }),
    );
}
