/**
 * `GET /api/batches/{id}/events`: Server-Sent Events with a batch's progress
 * (the `status --json` object) about every second, and a last `finished`
 * event once it has finished (or `gone` when it was discarded or expired).
 * Streams still open when the server closes end first.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isFinished } from '../pipeline/collector.js';
import { describeProgress, getBatchStatus, statusToJson } from '../pipeline/status.js';
import { BatchParamsSchema } from './batches-api.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';
import { SECURITY_HEADERS } from './security-headers.js';

/** A comment line this often keeps proxies from closing a quiet stream, ms. */
const KEEPALIVE_MS = 15_000;

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export async function eventsApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const open = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.abort();
  });

  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/batches/:id/events',
    {
      schema: {
        summary: 'Server-Sent Events: `progress` (the batch, as GET /api/batches/{id}) about every second, then `finished` (or `gone`)',
        produces: ['text/event-stream'],
        params: BatchParamsSchema,
        response: { 200: z.any().describe('text/event-stream'), 401: ErrorReplySchema, 404: ErrorReplySchema },
      },
    },
    async (request, reply) => {
      const { store } = ctx.backend;
      let status = await getBatchStatus(store, request.params.id); // 404 before the stream starts
      const stop = new AbortController();
      open.add(stop);
      request.raw.on('close', () => stop.abort());
      const res = reply.hijack().raw;
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      let last = '';
      let lastSentAt = 0;
      try {
        while (!stop.signal.aborted) {
          const json = JSON.stringify(statusToJson(status));
          if (isFinished(status.batch)) {
            send(res, 'finished', statusToJson(status));
            break;
          }
          if (json !== last) {
            res.write(`event: progress\ndata: ${json}\n\n`);
            last = json;
            lastSentAt = Date.now();
          } else if (Date.now() - lastSentAt >= KEEPALIVE_MS) {
            res.write(': still here\n\n');
            lastSentAt = Date.now();
          }
          await sleep(ctx.eventsIntervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
          if (stop.signal.aborted) break;
          const batch = await store.get(request.params.id);
          if (!batch) {
            send(res, 'gone', { batch_id: request.params.id, message: 'the batch was discarded or has expired' });
            break;
          }
          status = describeProgress(batch);
        }
      } catch (error) {
        ctx.logger.warn({ err: (error as Error).message, batchId: request.params.id }, 'progress stream stopped');
      } finally {
        open.delete(stop);
        res.end();
      }
    },
  );
}
