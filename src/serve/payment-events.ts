/**
 * `GET /api/payments/events`: Server-Sent Events saying that payments moved
 * (issue 17, item 6: the page's collection view updates as payments arrive).
 *
 * A `payments` event carries the account's links by payment state and its
 * exception count; it is sent when the stream opens and whenever those
 * change (checked every `eventsIntervalMs`). The page then reads what it
 * shows (a batch's report, an invoice) again. The counters are the status
 * store's own (kept by the same script that writes a status), so a check is
 * two small reads whatever the ledger's size, and one check serves every
 * open stream: the cost does not grow with the number of people watching.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PaylinksError } from '../core/errors.js';
import { PAYMENT_STATES } from '../pipeline/payment-status/index.js';
import { PaymentStatusStore } from '../pipeline/payment-status/store.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';
import { SECURITY_HEADERS } from './security-headers.js';

/** A comment line this often keeps proxies from closing a quiet stream, ms. */
const KEEPALIVE_MS = 15_000;
/** Streams open at once; more are refused (429) until some close. */
const MAX_STREAMS = 200;

export const PaymentsEventSchema = z.object({
  counts: z.object(Object.fromEntries(PAYMENT_STATES.map((s) => [s, z.number().int()]))).describe("the account's links by payment state"),
  exceptions: z.number().int().describe("the account's payment exceptions"),
});
type PaymentsEvent = z.infer<typeof PaymentsEventSchema>;

export async function paymentEventsApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const { redis, keys } = ctx.backend;
  const counters = new PaymentCounters(new PaymentStatusStore(redis, keys, ctx.account), keys.paymentExceptions(ctx.account));
  const open = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.abort();
  });

  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/payments/events',
    {
      schema: {
        summary: 'Server-Sent Events: `payments` (links by payment state, exceptions) at once and whenever a payment status or an exception is recorded',
        produces: ['text/event-stream'],
        response: { 200: z.any().describe('text/event-stream'), 401: ErrorReplySchema, 429: ErrorReplySchema },
      },
    },
    async (request, reply) => {
      if (open.size >= MAX_STREAMS) throw new PaylinksError('TOO_MANY_STREAMS', `${MAX_STREAMS} payment streams are open already: close a page or try again shortly`);
      let last = JSON.stringify(await counters.read()); // Redis down: an error reply before the stream starts
      const stop = new AbortController();
      open.add(stop);
      request.raw.on('close', () => stop.abort());
      const res: ServerResponse = reply.hijack().raw;
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      res.write(`event: payments\ndata: ${last}\n\n`);
      let lastSentAt = Date.now();
      try {
        while (!stop.signal.aborted) {
          await sleep(ctx.eventsIntervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
          if (stop.signal.aborted) break;
          const json = JSON.stringify(await counters.read());
          if (json !== last) {
            res.write(`event: payments\ndata: ${json}\n\n`);
            last = json;
            lastSentAt = Date.now();
          } else if (Date.now() - lastSentAt >= KEEPALIVE_MS) {
            res.write(': still here\n\n');
            lastSentAt = Date.now();
          }
        }
      } catch (error) {
        ctx.logger.warn({ err: (error as Error).message }, 'payments stream stopped');
      } finally {
        open.delete(stop);
        res.end();
      }
    },
  );
}

/** The counters every stream sends, read at most once per ~half a second whatever the number of streams. */
class PaymentCounters {
  private cached: { at: number; value: Promise<PaymentsEvent> } | null = null;

  constructor(
    private readonly store: PaymentStatusStore,
    private readonly exceptionsKey: string,
  ) {}

  read(): Promise<PaymentsEvent> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < 400) return this.cached.value;
    const value = Promise.all([this.store.countsByState(), this.store.redis.hlen(this.exceptionsKey)]).then(([counts, exceptions]) => ({ counts, exceptions }));
    this.cached = { at: now, value };
    value.catch(() => {
      if (this.cached?.value === value) this.cached = null;
    });
    return value;
  }
}
