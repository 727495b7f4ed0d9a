/**
 * The `paylinks` command line. Thin by design: each command (one module in
 * `commands/`) parses flags, resolves the configuration, calls one library
 * function and maps its result to an exit code.
 */
import { Command } from 'commander';
import { fail, type SetExit } from './action.js';
import { addCancelCommand } from './commands/cancel.js';
import { addCollectCommand } from './commands/collect.js';
import { addInboxCommand } from './commands/inbox.js';
import { addLedgerCommand } from './commands/ledger.js';
import { addPaymentsCommand } from './commands/payments.js';
import { addReportCommand } from './commands/report.js';
import { addRetryCommand } from './commands/retry.js';
import { addRunCommand } from './commands/run.js';
import { addServeCommand } from './commands/serve.js';
import { addSimulateCommand } from './commands/simulate.js';
import { addStatusCommand } from './commands/status.js';
import { addSendCommand } from './commands/send.js';
import { addSubmitCommand } from './commands/submit.js';
import { addValidateCommand } from './commands/validate.js';
import { addWorkerCommand } from './commands/worker.js';
import { EXIT } from './exit-codes.js';

export function buildProgram(setExit: SetExit): Command {
  const program = new Command('paylinks')
    .description('Turn CSV files of invoices into Paywint payment links.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const add of [addValidateCommand, addRunCommand, addSubmitCommand, addWorkerCommand, addStatusCommand, addSendCommand, addCollectCommand, addReportCommand, addRetryCommand, addCancelCommand, addServeCommand, addInboxCommand, addLedgerCommand, addPaymentsCommand, addSimulateCommand]) {
    add(program, setExit);
  }
  return program;
}

/** Runs the CLI and resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // commander throws on --help/--version (exit 0) and on usage errors (already printed).
    const e = error as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
    if (typeof e.exitCode === 'number') return EXIT.USAGE;
    return fail(error);
  }
  return code;
}
