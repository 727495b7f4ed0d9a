/**
 * The Paywint simulator, used by every test, demo and benchmark:
 * `server.ts` (HTTP routes, start and stop), `faults.ts` (fault injection),
 * `ledger.ts` (the links created, the stats), `endpoints.ts` and
 * `validation.ts` (Paywint's answers and its 422s).
 */
export {
  SIMULATOR_DEFAULT_LINK_BASE_URL,
  SIMULATOR_DEMO_API_KEY,
  SIMULATOR_DEMO_API_SECRET,
  startSimulator,
  type SimulatorHandle,
  type SimulatorOptions,
} from './server.js';
export type { SimulatorFaults } from './faults.js';
export type { LedgerEntry, SimulatorStats } from './ledger.js';
export { SIMULATOR_PAYMENT_STATUSES, type PaymentMove, type SimulatorPayment, type SimulatorPaymentStatus, type PaymentEvent } from './payments.js';
export type { StrayLink } from './controls.js';
export type { WebhookRecord, WebhookSettings } from './webhooks.js';
export type { DemoPayerOptions } from './demo.js';
