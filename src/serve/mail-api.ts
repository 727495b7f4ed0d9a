/**
 * Sending a batch's links to its customers from the API and the page (issue
 * 19): the preview of what a send would do (the count, the rows left out and
 * why, the exact message one customer gets), the send itself, and how far it
 * got. Thin, like `paylinks send`: planSend, startSend and mailProgress
 * (src/mail/sending.ts) do the work; the message is rendered by the same
 * templates the workers use, loaded (and checked) when the server starts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mailConfigured } from '../core/config.js';
import { PaylinksError } from '../core/errors.js';
import { mailProgress, planSend, startSend, type MailContext } from '../mail/sending.js';
import { headerValue, loadTemplates, renderMessage } from '../mail/templates.js';
import { openMailQueue } from '../pipeline/mail-job.js';
import { BatchParamsSchema } from './batches-api.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorReplySchema]));

const ProgressSchema = z.object({
  queued: z.number().int().describe('messages waiting or being sent'),
  sent: z.number().int().describe('messages the mail server accepted'),
  failed: z.number().int().describe('messages given up after temporary failures'),
  bounced: z.array(z.object({ invoiceNumber: z.string(), reply: z.string().describe("the mail server's refusal, in its words") })).describe('messages refused for good (5xx), e.g. an unknown mailbox'),
  unknown: z.number().int().describe('messages whose server answer never came: flagged, not sent again'),
});

const PreviewSchema = z.object({
  configured: z.boolean().describe('whether this server can send (PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM are set)'),
  willSend: z.number().int().describe('messages a send would queue now'),
  skipped: z.record(z.string(), z.number().int()).describe('rows that get no message, by reason: no-link, no-address, invalid-address, already-sent, paid, closed'),
  sample: z
    .object({
      from: z.string().nullable(),
      replyTo: z.string().nullable(),
      to: z.string(),
      toName: z.string().nullable(),
      invoiceNumber: z.string(),
      subject: z.string(),
      text: z.string(),
      html: z.string().describe('the HTML body as sent: show it in a sandboxed frame, never inline'),
    })
    .nullable()
    .describe('the first message a send would queue, exactly as the customer gets it'),
  progress: ProgressSchema,
});

/** The mail routes, under the token check. */
export async function mailApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const settings = ctx.config.mail;
  // At start: a template with an unknown placeholder stops `serve` here, naming it.
  const templates = loadTemplates(settings.templatesDir);
  const queue = openMailQueue(ctx.backend.redis, ctx.backend.keys);
  app.addHook('onClose', async () => {
    await queue.close().catch(() => undefined);
  });
  const mail: MailContext = { redis: ctx.backend.redis, keys: ctx.backend.keys, store: ctx.backend.store, queue, settings };

  api.get(
    '/api/batches/:id/mail/preview',
    {
      schema: {
        summary: "What sending the batch's links to its customers would do: the count, the rows left out and why, one exact message",
        params: BatchParamsSchema,
        response: { 200: PreviewSchema, ...errors(401, 404, 409, 410) },
      },
    },
    async (request) => {
      const [plan, progress] = await Promise.all([planSend(mail, request.params.id), mailProgress(mail, request.params.id)]);
      const sample =
        plan.sample === null
          ? null
          : {
              ...renderMessage(templates, 'first', plan.sample.fields),
              from: settings.from ?? null,
              replyTo: settings.replyTo ?? null,
              to: plan.sample.to,
              toName: plan.sample.fields.name === null ? null : headerValue(plan.sample.fields.name) || null,
              invoiceNumber: plan.sample.fields.invoiceNumber,
            };
      return { configured: mailConfigured(settings), willSend: plan.willSend, skipped: plan.skipped, sample, progress };
    },
  );

  api.post(
    '/api/batches/:id/mail/send',
    {
      schema: {
        summary: "Sends the batch's links to its customers (paylinks send BATCH): queues one message per row that gets one; the workers send them at PAYLINKS_MAIL_RATE",
        params: BatchParamsSchema,
        response: { 202: z.object({ queued: z.number().int().describe('messages queued now (none twice: a second send queues only what the first did not)') }), ...errors(401, 404, 409, 410) },
      },
    },
    async (request, reply) => {
      if (!mailConfigured(settings)) {
        throw new PaylinksError('CONFIG_MISSING', 'this server cannot send e-mail: set PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM and start it again');
      }
      const result = await startSend(mail, request.params.id);
      return reply.code(202).send({ queued: result.queued });
    },
  );

  api.get(
    '/api/batches/:id/mail',
    {
      schema: {
        summary: "How far sending the batch's links got: queued, sent, failed, bounced (with the server's reply), unknown",
        params: BatchParamsSchema,
        response: { 200: ProgressSchema, ...errors(401, 404) },
      },
    },
    async (request) => {
      if (!(await ctx.backend.store.get(request.params.id))) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${request.params.id}`);
      return mailProgress(mail, request.params.id);
    },
  );
}
