/** `paylinks simulate`: the Paywint simulator as a server. */
import type { Command } from 'commander';
import { startSimulator, type SimulatorOptions } from '../../paywint/simulator/index.js';
import { action, out, type SetExit } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { number, probability } from '../flags.js';
import { interruption } from '../interruption.js';

export function addSimulateCommand(program: Command, setExit: SetExit): void {
  program
    .command('simulate')
    .description('Run the Paywint simulator: a local server that behaves as the documented endpoint, with fault injection.')
    .option('--port <port>', 'port to listen on (0: any free port)', number('--port'), 4010)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--api-key <uuid>', 'API key the simulator accepts (default: PAYWINT_API_KEY, else a fixed demo key)')
    .option('--latency-ms <ms>', 'fixed latency per request', number('--latency-ms'), 0)
    .option('--jitter-ms <ms>', 'random extra latency, 0 to this', number('--jitter-ms'), 0)
    .option('--error-rate <p>', 'probability of a 500 or 503', probability, 0)
    .option('--rate-limited-rate <p>', 'probability of a 429 with Retry-After', probability, 0)
    .option('--retry-after <seconds>', 'Retry-After of injected 429s', number('--retry-after'), 1)
    .option('--hang-rate <p>', 'probability of creating the link, then never answering', probability, 0)
    .option('--drop-rate <p>', 'probability of creating the link, then cutting the connection', probability, 0)
    .option('--rate-limit <perSecond>', 'server-side limit, answered with 429 (0: none)', number('--rate-limit'), 0)
    .option('--webhook-url <url>', 'POST every payment event here (e.g. serve\'s http://127.0.0.1:8080/webhooks/paywint/SECRET)')
    .option('--demo-payments <share>', 'share of the links that simulated payers pay over about 3 minutes (0: none)', probability, 0)
    .addHelpText('after', '\nThe secret it accepts is PAYWINT_API_SECRET (else a fixed demo secret); it is never printed.\nLedger of created links: GET /__simulator/ledger; payments and their controls: docs/simulator.md')
    .action(
      action(
        setExit,
        async ({ config, logger, opts }) => {
          const options: SimulatorOptions = {
            port: opts.port as number,
            host: opts.host as string,
            apiKey: (opts.apiKey as string | undefined) ?? config.apiKey,
            apiSecret: config.apiSecret,
            latencyMs: opts.latencyMs as number,
            jitterMs: opts.jitterMs as number,
            errorRate: opts.errorRate as number,
            rateLimitedRate: opts.rateLimitedRate as number,
            retryAfterSeconds: opts.retryAfter as number,
            hangRate: opts.hangRate as number,
            dropRate: opts.dropRate as number,
            rateLimitPerSecond: opts.rateLimit as number,
            webhooks: { url: (opts.webhookUrl as string | undefined) ?? null },
            demoPayer: (opts.demoPayments as number) > 0 ? { paidShare: opts.demoPayments as number } : false,
          };
          const stop = interruption();
          try {
            const sim = await startSimulator(options);
            logger.info({ url: sim.url, apiKey: sim.apiKey }, 'Paywint simulator listening');
            await out(`Paywint simulator on ${sim.url}\n  PAYWINT_BASE_URL=${sim.url}\n  PAYWINT_API_KEY=${sim.apiKey}\nLedger: ${sim.url}/__simulator/ledger   (Ctrl-C to stop)`);
            await stop.stopped;
            await sim.close();
            return EXIT.OK;
          } finally {
            stop.dispose();
          }
        },
        { flagsAreConfig: false },
      ),
    );
}
