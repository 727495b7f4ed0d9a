/**
 * The `confirm-payment` job's contract with its queue: one webhook event of
 * Paywint's (a hint that a payment changed), to be confirmed by reading the
 * payment with our own credentials. Its queue, its data, what its processor
 * (jobs/confirm-payment.ts) is handed.
 *
 * The job id is the event's id: Paywint delivers at least once, and the same
 * event queued twice is one job. Only parsed fields are kept, never the body.
 */
import type { Job } from 'bullmq';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { PaywintPayment } from '../paywint/payments.js';
import type { ConfirmOutcome } from './payment-status/confirm.js';
import type { PaymentExceptions } from './payment-status/exceptions.js';
import type { PaymentStatusStore } from './payment-status/store.js';

export const PAYMENT_EVENT_QUEUE = 'payment-event';
export const CONFIRM_PAYMENT_JOB = 'confirm-payment';

/** The job id of an event: de-duplicates deliveries of one event. */
export function eventJobId(eventId: string): string {
  return `ev-${eventId}`;
}

export const ConfirmPaymentDataSchema = z.object({
  eventId: z.string().min(1).max(64),
  /** `payment.success`, ... (at most 40 characters). */
  event: z.string().min(1).max(40),
  paymentId: z.string().min(1).max(64),
  /** The payment id a `payment.retried` event replaces, when the event names it. */
  previousPaymentId: z.string().max(64).optional(),
  /** When paylinks received it, ms. */
  receivedAtMs: z.number().int(),
});
export type ConfirmPaymentData = z.infer<typeof ConfirmPaymentDataSchema>;

/** Attempts of a confirmation (a Paywint outage, a payment id not indexed yet): about 40 minutes in all, then it fails and the sweep is the backstop. */
export const CONFIRM_ATTEMPTS = 12;

/** The reads a confirmation makes (PaywintClient's, each taking a slot of the shared rate limit first). */
export interface PaymentReads {
  getPayment(paymentId: string): Promise<PaywintPayment | null>;
}

export interface ConfirmPaymentDeps {
  store: PaymentStatusStore;
  exceptions: PaymentExceptions;
  reads: PaymentReads;
  logger: Logger;
}

export type { ConfirmOutcome };

/** Makes the processor of `confirm-payment` jobs. */
export type ConfirmPaymentProcessor = (deps: ConfirmPaymentDeps) => (job: Job) => Promise<ConfirmOutcome>;
