/**
 * `POST /webhooks/paywint/{secret}`: Paywint's webhook events. Paywint sends
 * no token and signs nothing, so the secret is in the path
 * (`PAYLINKS_WEBHOOK_SECRET`, at least 32 characters, compared in constant
 * time; a wrong one is 404 like any unknown route). An event is a hint: the
 * route checks its shape, queues a `confirm-payment` job whose id is the
 * event's id (a delivery of an event already queued adds nothing) and answers
 * 202 at once; the job reads the payment with our credentials.
 *
 * Strangers can post here: the body is capped (16 KB), checked by a schema
 * (a bad one is 400, nothing queued), each client address is rate limited,
 * and nothing of the body is logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CONFIRM_ATTEMPTS, CONFIRM_PAYMENT_JOB, eventJobId, PAYMENT_EVENT_QUEUE, type ConfirmPaymentData } from '../pipeline/payment-event-job.js';
import { PaymentStatusStore } from '../pipeline/payment-status/store.js';
import type { ServeContext } from './context.js';

/** The shortest secret the route accepts. */
export const MIN_WEBHOOK_SECRET_CHARS = 32;
/** The largest body accepted, bytes (Paywint's events are a few hundred). */
export const MAX_WEBHOOK_BODY_BYTES = 16 * 1024;
/** The path, with the secret left out (for logs and messages). */
export const WEBHOOK_PATH = '/webhooks/paywint/';

const Id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const WebhookBody = z.object({
  event: z.string().min(1).max(40).regex(/^[a-z][a-z_.]*$/),
  id: Id,
  data: z.looseObject({
    payment_id: Id,
    previous_payment_id: Id.optional(),
    original_payment_id: Id.optional(),
  }),
  eventGeneratedTime: z.number().optional(),
});

/** Why the route is not registered, or undefined when it is. */
export function webhookRouteProblem(secret: string | undefined): string | undefined {
  if (secret === undefined) return 'PAYLINKS_WEBHOOK_SECRET is not set: the Paywint webhook route is off (payments are found by the sweep alone)';
  if (secret.length < MIN_WEBHOOK_SECRET_CHARS) return `PAYLINKS_WEBHOOK_SECRET has ${secret.length} characters, fewer than ${MIN_WEBHOOK_SECRET_CHARS}: the Paywint webhook route is off`;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Fixed one-minute windows per client address. */
class AddressLimiter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();
  constructor(private readonly perMinute: number) {}
  allow(address: string, now = Date.now()): boolean {
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.counts.clear();
    }
    const n = (this.counts.get(address) ?? 0) + 1;
    this.counts.set(address, n);
    return n <= this.perMinute;
  }
}

export const paywintWebhook: FastifyPluginAsync<ServeContext> = async (app, ctx) => {
  const secret = ctx.config.webhookSecret;
  const problem = webhookRouteProblem(secret);
  if (problem !== undefined || secret === undefined) {
    ctx.logger.warn(problem);
    return;
  }
  const expected = digest(secret);
  const queue = new Queue<ConfirmPaymentData>(PAYMENT_EVENT_QUEUE, { connection: ctx.backend.redis, prefix: ctx.backend.keys.bullPrefix });
  app.addHook('onClose', async () => queue.close());
  const store = new PaymentStatusStore(ctx.backend.redis, ctx.backend.keys, ctx.account);
  const limiter = new AddressLimiter(ctx.config.webhookRatePerMinute);
  const notFound = { code: 'NOT_FOUND', message: `no such page or route: POST ${WEBHOOK_PATH}…` };
  const reject = async (status: number, code: string, message: string) => {
    await store.count('webhooks_rejected');
    return { status, body: { code, message } };
  };

  app.post<{ Params: { secret: string } }>(`${WEBHOOK_PATH}:secret`, { bodyLimit: MAX_WEBHOOK_BODY_BYTES, schema: { hide: true } }, async (request, reply) => {
    if (!timingSafeEqual(digest(request.params.secret), expected)) return reply.code(404).send(notFound);
    if (!limiter.allow(request.ip)) {
      const r = await reject(429, 'RATE_LIMITED', 'too many webhook requests from this address: try again in a minute');
      return reply.code(r.status).header('retry-after', '60').send(r.body);
    }
    const parsed = WebhookBody.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const r = await reject(400, 'INVALID_WEBHOOK', `not a Paywint webhook event: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'bad body'}`.slice(0, 200));
      return reply.code(r.status).send(r.body);
    }
    const event = parsed.data;
    const previous = event.data.previous_payment_id ?? event.data.original_payment_id;
    const data: ConfirmPaymentData = { eventId: event.id, event: event.event, paymentId: event.data.payment_id.toLowerCase(), receivedAtMs: Date.now(), ...(previous ? { previousPaymentId: previous.toLowerCase() } : {}) };
    await queue.add(CONFIRM_PAYMENT_JOB, data, {
      jobId: eventJobId(event.id),
      attempts: CONFIRM_ATTEMPTS,
      backoff: { type: 'custom' },
      // Kept a day after, so that a late duplicate delivery finds it and adds nothing.
      removeOnComplete: { age: 86_400, count: 1_000_000 },
      removeOnFail: { age: 7 * 86_400 },
    });
    await store.count('webhooks_accepted');
    return reply.code(202).send({ received: true });
  });
};
