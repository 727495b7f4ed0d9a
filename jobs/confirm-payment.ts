/**
 * The `confirm-payment` processor: a webhook event is a hint; the payment is
 * read with our own credentials (taking a slot of the shared rate limit), and
 * only that answer is recorded (src/pipeline/payment-status/confirm.ts). A
 * Paywint error that a retry can help is thrown, so BullMQ tries again later.
 */
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { ConfirmPaymentDataSchema, type ConfirmPaymentProcessor } from '../src/pipeline/payment-event-job.js';
import { confirmPayment } from '../src/pipeline/payment-status/confirm.js';
import { stateOfEvent } from '../src/pipeline/payment-status/model.js';

export const confirmPaymentProcessor: ConfirmPaymentProcessor = (deps) => async (job: Job) => {
  const parsed = ConfirmPaymentDataSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError('not a confirm-payment job');
  const data = parsed.data;
  const payment = await deps.reads.getPayment(data.paymentId);
  const claimedState = stateOfEvent(data.event);
  const outcome = await confirmPayment(deps, {
    paymentId: data.paymentId,
    payment,
    by: 'webhook',
    observedAtMs: Date.now(),
    ...(claimedState && data.event !== 'payment.retried' ? { claimedState } : {}),
    ...(data.previousPaymentId ? { previousPaymentId: data.previousPaymentId } : {}),
  });
  if (outcome === 'contradicted') await deps.store.count('webhooks_contradicted');
  deps.logger.info({ eventId: data.eventId, event: data.event, paymentId: data.paymentId, outcome }, 'payment event confirmed');
  return outcome;
};
