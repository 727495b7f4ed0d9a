/** `paylinks worker`: a long-running worker with /healthz and /metrics. */
import type { Command } from 'commander';
import { PROCESSORS } from '../../../jobs/index.js';
import { runWorkerService } from '../../pipeline/worker-service.js';
import { action, type SetExit } from '../action.js';
import { withConfigFlags } from '../flags.js';
import { interruption } from '../interruption.js';

export function addWorkerCommand(program: Command, setExit: SetExit): void {
  withConfigFlags(program.command('worker'), 'all')
    .description('Run a worker until SIGINT/SIGTERM: creates the links of every queued batch; serves /healthz and /metrics.')
    .option('--metrics-port <port>', 'port of /healthz and /metrics (PAYLINKS_METRICS_PORT, default 9464; 0: any)')
    .option('--metrics-host <host>', 'address of /healthz and /metrics', '127.0.0.1')
    .addHelpText('after', '\nOn SIGTERM it stops taking rows, finishes those in flight (bounded by the timeout) and exits 143 (130 on SIGINT).')
    .action(
      action(setExit, async ({ config, logger, opts }) => {
        const stop = interruption();
        try {
          await runWorkerService({ config, logger, processors: PROCESSORS, stop: stop.stopped, metricsHost: opts.metricsHost as string });
          return stop.exitCode();
        } finally {
          stop.dispose();
        }
      }),
    );
}
