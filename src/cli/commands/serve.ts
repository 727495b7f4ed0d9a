/** `paylinks serve`: the HTTP API, the web page and (unless --no-worker) the workers, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { inboxPlugin } from '../../inbox/plugin.js';
import { startServer } from '../../serve/server.js';
import { action, out, type SetExit } from '../action.js';
import { probability, withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addServeCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('serve'), 'all')
    .description('Serve the HTTP API and the web page for uploading invoice files; runs the workers too unless --no-worker.')
    .option('--host <host>', 'address to listen on (PAYLINKS_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (PAYLINKS_HTTP_PORT, default 8080; 0: any free port)')
    .option('--simulate', 'start the Paywint simulator in this process and use it (no credentials needed)')
    .option('--demo-payments <share>', 'with --simulate: share of the links that simulated payers pay over about 3 minutes (0: none)', probability, 0.6)
    .option('--no-worker', 'run no workers here: separate `paylinks worker` processes do the work')
    .option('--inbox <dir>', 'also watch this drop folder (PAYLINKS_INBOX): files dropped into DIR/inbox become batches, outputs appear in DIR/out')
    .addHelpText(
      'after',
      [
        '',
        'Every /api route needs "Authorization: Bearer <token>", a token from PAYLINKS_API_TOKENS (comma-separated, 32+ characters each).',
        'With none set on a loopback host, serve makes one and prints a sign-in URL once; on any other host it refuses to start.',
        'On SIGTERM it stops accepting requests, finishes those in flight and the rows being sent, and exits 143 (130 on SIGINT).',
      ].join('\n'),
    )
    .action(
      action(setExit, async ({ config, logger, opts }) => {
        const stop = interruption();
        try {
          const plugins = config.inbox === undefined ? [] : [inboxPlugin(config.inbox)];
          const server = await startServer({ config, logger, simulate: opts.simulate === true && { demoPayer: (opts.demoPayments as number) > 0 && { paidShare: opts.demoPayments as number } }, worker: opts.worker !== false, plugins });
          await out(
            server.signInUrl === undefined
              ? `paylinks serving on ${server.url}   (Ctrl-C to stop)`
              : `paylinks serving on ${server.url}\nOpen this address to sign in (it holds a token made for this run; set PAYLINKS_API_TOKENS to choose your own):\n  ${server.signInUrl}\n(Ctrl-C to stop)`,
          );
          await stop.stopped;
          logger.info('stopping: finishing the requests and rows in flight');
          await server.close();
          return stop.exitCode();
        } finally {
          stop.dispose();
        }
      }),
    );
}
