/** What every command does around its body: load the configuration, print, map errors to exit codes. */
import { openBackend, type Backend } from '../pipeline/backend.js';
import { loadConfig, type Config } from '../core/config.js';
import { coerceError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { EXIT } from './exit-codes.js';
import { configFlags, type Opts } from './flags.js';

/** Sets the process's exit code (the program resolves with the last one set). */
export type SetExit = (code: number) => void;

/** Writes to stdout and resolves once the text is flushed (so piping never truncates). */
export function out(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`, () => resolve()));
}

/** Prints an error as `paylinks: message [CODE]` and returns its exit code: every error that reaches the top of a command ends it as fatal. */
export function fail(error: unknown): number {
  const err = coerceError(error);
  process.stderr.write(`paylinks: ${err.message} [${err.code}]\n`);
  return EXIT.FATAL;
}

export interface ActionContext {
  config: Config;
  logger: Logger;
  opts: Opts;
}

/** Loads the configuration, then runs `body`; every error becomes a message and an exit code. */
export function action<A extends unknown[]>(
  setExit: SetExit,
  body: (ctx: ActionContext, ...args: A) => Promise<number>,
  /** Whether the command's flags layer over the configuration (not for `simulate`, whose flags are the server's). */
  { flagsAreConfig = true } = {},
) {
  return async (...args: [...A, Opts, unknown]) => {
    const opts = args[args.length - 2] as Opts;
    try {
      const config = loadConfig({ flags: flagsAreConfig ? configFlags(opts) : {} });
      const logger = createLogger({ level: config.logLevel });
      setExit(await body({ config, logger, opts }, ...(args.slice(0, -2) as A)));
    } catch (error) {
      setExit(fail(error));
    }
  };
}

/** Opens Redis, the batch store and the queue for `fn`, and closes them after. */
export async function withBackend<T>(config: Config, logger: Logger, fn: (backend: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend({ config, logger, account: config.apiKey });
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

/** The account a batch runs under: `PAYWINT_API_KEY`, required. */
export { requireApiKey as requireAccount } from '../core/config.js';
