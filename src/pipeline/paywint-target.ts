/**
 * Which Paywint the workers of this process talk to: the configured one
 * (credentials required), or the simulator started here (`--simulate`, its
 * demo credentials). What `run` and `serve` share.
 */
import { requireCredentials, type Config, type Credentials } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { SIMULATOR_DEMO_API_KEY, SIMULATOR_DEMO_API_SECRET, startSimulator, type SimulatorHandle, type SimulatorOptions } from '../paywint/simulator/index.js';

export interface PaywintTarget {
  credentials: Credentials;
  baseUrl: string;
  /** The simulator, when started here. */
  simulator: SimulatorHandle | undefined;
  close(): Promise<void>;
}

/**
 * With `simulate` (true, or the simulator's options), starts the simulator
 * and uses its demo credentials; else checks the configured credentials
 * (throws a `ConfigError` naming a missing one).
 */
export async function openPaywintTarget(config: Config, simulate: boolean | SimulatorOptions | undefined, logger: Logger): Promise<PaywintTarget> {
  if (!simulate) return { credentials: requireCredentials(config), baseUrl: config.baseUrl, simulator: undefined, close: async () => undefined };
  const simOptions = simulate === true ? {} : simulate;
  const credentials = { apiKey: simOptions.apiKey ?? SIMULATOR_DEMO_API_KEY, apiSecret: simOptions.apiSecret ?? SIMULATOR_DEMO_API_SECRET };
  const simulator = await startSimulator({ ...simOptions, ...credentials });
  logger.info({ url: simulator.url }, 'using the Paywint simulator');
  return { credentials, baseUrl: simulator.url, simulator, close: () => simulator.close() };
}
