/** `/healthz` (no token), `/metrics` and `/api/openapi.json` (token): as the worker serves them, plus this API's description. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';

export async function healthRoute(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/healthz',
    { schema: { summary: '200 "ok" while the workers run and Redis answers, else 503 (no token needed)', security: [], response: { 200: z.string(), 503: z.string() } } },
    async (_request, reply) => {
      const ok = await ctx.healthy().catch(() => false);
      return reply.code(ok ? 200 : 503).type('text/plain').send(ok ? 'ok\n' : 'unhealthy\n');
    },
  );
}

export async function metricsRoutes(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/metrics', { schema: { summary: 'Prometheus metrics, as paylinks worker serves them', produces: ['text/plain'], response: { 200: z.string(), 401: ErrorReplySchema } } }, async (_request, reply) =>
    reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics()),
  );
  // The document describes itself loosely: its shape is OpenAPI's, not ours.
  app.get('/api/openapi.json', { schema: { summary: 'This document: OpenAPI 3, generated from the routes' } }, async () => app.swagger());
}

/** What the page shows about this server: whether its links are real. */
export async function serverInfoRoute(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/server',
    {
      schema: {
        summary: 'About this server: whether it runs against the Paywint simulator (serve --simulate), so that its links are not real',
        response: { 200: z.object({ simulated: z.boolean().describe('true: links come from the simulator started with the server; nobody can pay them') }), 401: ErrorReplySchema },
      },
    },
    async () => ({ simulated: ctx.simulated }),
  );
}
