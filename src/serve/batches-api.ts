/**
 * The batch routes of the API (`/api/batches...`). Thin like the CLI: each
 * parses its input, calls the library function the matching command calls,
 * and shapes the reply as that command's `--json` does.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PaylinksError } from '../core/errors.js';
import { checkInvoiceFile, reportToJson, ValidationReportJsonSchema, RowProblemJsonSchema } from '../intake/validate.js';
import { BATCH_STATES } from '../pipeline/batch-store.js';
import { cancelBatch } from '../pipeline/cancel.js';
import { requireFinished, writeBatchOutput } from '../pipeline/collector.js';
import { discardBatch, releaseBatch } from '../pipeline/hold.js';
import { submitFile, submitResultToJson } from '../pipeline/producer.js';
import { retryFailedRows } from '../pipeline/retry-rows.js';
import { readRowErrors } from '../pipeline/row-errors.js';
import { describeProgress, getBatchStatus, listRecentBatches, statusToJson, BatchStatusJsonSchema } from '../pipeline/status.js';
import { ledgerPreviewToJson, LedgerPreviewJsonSchema, previewBatchAgainstLedger, previewFileAgainstLedger } from '../pipeline/ledger-preview.js';
import type { Batch } from '../pipeline/batch-store.js';
import { SIMULATOR_DEMO_API_KEY } from '../paywint/simulator/index.js';
import { ROW_STATUSES } from '../pipeline/output.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';
import { booleanOption, receiveUpload, renameFileError, UploadOptionsSchema } from './upload.js';

export const BatchParamsSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/).describe('batch id') });

const UploadReplySchema = z.object({
  batch_id: z.string(),
  state: z.enum(BATCH_STATES),
  rows: z.number().int(),
  valid: z.number().int(),
  invalid: z.number().int(),
  total_amount: z.string().describe('sum of the valid rows, a decimal string'),
  errors: z.array(RowProblemJsonSchema).describe('the first 100 row errors'),
  ledger: LedgerPreviewJsonSchema.optional().describe('for a held batch: its valid rows against the ledger (see the dry run)'),
});

const DryRunReplySchema = ValidationReportJsonSchema.extend({ ledger: LedgerPreviewJsonSchema });

const simulatedField = z.boolean().describe('made against the Paywint simulator (serve --simulate, run --simulate): its links are not real');
const BatchListItemSchema = BatchStatusJsonSchema.extend({ simulated: simulatedField });
const ReadAsSchema = z
  .object({
    format: z.enum(['csv', 'workbook']),
    headers: z.array(z.string()).describe("the header line's cells (the first 100, each cut at 100 characters)"),
    invoice_column: z.number().int().describe('index in headers'),
    amount_column: z.number().int(),
    description_column: z.number().int().nullable(),
    delimiter: z.string(),
    sheet: z.string().nullable(),
    decimal: z.enum(['point', 'comma']).nullable(),
  })
  .describe('how the file was read: to upload it again read otherwise (columns, delimiter, sheet, decimal)');
const BatchReplySchema = BatchListItemSchema.extend({
  ledger: LedgerPreviewJsonSchema.nullable().describe('for a held batch: its rows against the ledger, looked up now; null otherwise'),
  read_as: ReadAsSchema,
});

function readAs(batch: Batch): z.infer<typeof ReadAsSchema> {
  const l = batch.layout;
  return {
    format: l.format ?? 'csv',
    headers: l.headers.slice(0, 100).map((h) => h.slice(0, 100)),
    invoice_column: l.invoice,
    amount_column: l.amount,
    description_column: l.description,
    delimiter: l.delimiter,
    sheet: l.sheet ?? null,
    decimal: l.decimal ?? null,
  };
}

/** Output formats of a finished batch, by the extension of the route. */
const OUTPUT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
} as const;

/** Row errors a dry run's answer lists (`invalid` counts them all): a file of millions of bad rows is not a 1 GB answer. */
export const MAX_ANSWER_ERRORS = 1000;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorReplySchema]));

export async function batchesApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store, queue, redis, keys } = ctx.backend;
  const ledgerKey = keys.ledger(ctx.account);
  // The simulator's demo account is never a real one; a batch of this server's account is simulated when the server is.
  const simulated = (batch: Batch) => batch.account === SIMULATOR_DEMO_API_KEY || (ctx.simulated && batch.account === ctx.account);

  api.post(
    '/api/batches',
    {
      schema: {
        summary: 'Upload a file of invoices: a new batch (201), the unfinished batch of the same file (200), or with dry_run=true the validation report (200)',
        consumes: ['multipart/form-data', 'text/csv'],
        querystring: UploadOptionsSchema,
        response: { 201: UploadReplySchema, 200: z.union([UploadReplySchema, DryRunReplySchema]), ...errors(400, 401, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const file = await receiveUpload(request, { maxBytes: ctx.maxUploadBytes, fallbackName: request.query.filename });
      try {
        // Form fields beside the file count as query parameters (the query's are already checked).
        const parsed = UploadOptionsSchema.safeParse(file.fields);
        if (!parsed.success) throw new PaylinksError('BAD_REQUEST', parsed.error.issues.map((i) => `body.${i.path.join('.')}: ${i.message}`).join('; '));
        const fromFields = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
        const options = { ...request.query, ...fromFields };
        const intake = { columns: options.columns, delimiter: options.delimiter, sheet: options.sheet, decimal: options.decimal, signal: ctx.stopping };
        if (options.dry_run) {
          const { sha256: _sha256, ...checked } = await checkInvoiceFile(file.path, { ...intake, maxErrors: MAX_ANSWER_ERRORS });
          const report = reportToJson(checked);
          const ledger = ledgerPreviewToJson(await previewFileAgainstLedger(file.path, intake, redis, ledgerKey));
          return reply.code(200).send({ ...report, ledger });
        }
        const result = await submitFile(file.path, {
          redis,
          store,
          queue,
          account: ctx.account,
          logger: ctx.logger,
          ...intake,
          fileName: file.name,
          source: 'api',
          hold: options.hold,
          holdTtlSeconds: ctx.holdTtlSeconds,
          resume: true,
        });
        request.log.info({ batchId: result.batchId, rows: result.rows, state: result.state, resumed: result.resumed, bytes: file.bytes }, 'upload');
        const answer = submitResultToJson(result);
        const held = result.state === 'held' ? await store.get(result.batchId) : undefined;
        const ledger = held ? ledgerPreviewToJson(await previewBatchAgainstLedger(store, held, redis, ledgerKey)) : undefined;
        return reply.code(result.resumed ? 200 : 201).send({ ...answer, ledger });
      } catch (error) {
        if (ctx.stopping.aborted) throw new PaylinksError('SERVER_STOPPING', 'the server is stopping: upload the file again once it is back');
        throw renameFileError(error, file);
      } finally {
        await file.remove();
      }
    },
  );

  api.get(
    '/api/batches',
    {
      schema: {
        summary: 'The recent batches, newest first (status --json with no batch)',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
        response: { 200: z.array(BatchListItemSchema), ...errors(401) },
      },
    },
    async (request) => (await listRecentBatches(store, request.query.limit)).map((b) => ({ ...statusToJson(describeProgress(b)), simulated: simulated(b) })),
  );

  api.get(
    '/api/batches/:id',
    { schema: { summary: 'One batch (status --json BATCH); a held one with its rows against the ledger', params: BatchParamsSchema, response: { 200: BatchReplySchema, ...errors(401, 404) } } },
    async (request) => {
      const status = await getBatchStatus(store, request.params.id);
      const ledger = status.batch.state === 'held' ? ledgerPreviewToJson(await previewBatchAgainstLedger(store, status.batch, redis, ledgerKey)) : null;
      return { ...statusToJson(status), simulated: simulated(status.batch), ledger, read_as: readAs(status.batch) };
    },
  );

  api.get(
    '/api/batches/:id/errors',
    {
      schema: {
        summary: "A page of the batch's row errors, in file order; ask for the next page with from=<next>",
        params: BatchParamsSchema,
        querystring: z.object({ from: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: {
          200: z.object({
            batch_id: z.string(),
            errors: z.array(RowProblemJsonSchema.extend({ status: z.enum(ROW_STATUSES) })),
            next: z.number().int().nullable().describe('from of the next page; null at the end'),
          }),
          ...errors(401, 404, 410),
        },
      },
    },
    async (request) => readRowErrors(store, request.params.id, request.query),
  );

  for (const [ext, type] of Object.entries(OUTPUT_TYPES)) {
  api.get(
    `/api/batches/:id/output.${ext}`,
    {
      schema: {
        summary:
          ext === 'csv'
            ? 'The output CSV, byte for byte what collect writes (409 before the batch finished, 410 once its rows expired)'
            : 'The output as an Excel workbook, as collect -o out.xlsx writes it (409 before the batch finished, 410 once its rows expired)',
        produces: [type.split(';')[0]!],
        params: BatchParamsSchema,
        response: { 200: z.any().describe(type), ...errors(401, 404, 409, 410) },
      },
    },
    async (request, reply) => {
      const batch = requireFinished((await getBatchStatus(store, request.params.id)).batch);
      const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-output-'));
      const file = path.join(dir, `output.${ext}`);
      try {
        await writeBatchOutput(store, batch.id, file);
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      const stream = createReadStream(file);
      stream.on('close', () => void rm(dir, { recursive: true, force: true }));
      const name = `${path.parse(batch.file).name}.out.${ext}`;
      return reply
        .header('content-type', type)
        .header('content-disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
        .send(stream);
    },
  );
  }

  api.post(
    '/api/batches/:id/release',
    {
      schema: {
        summary: 'Queue a held batch',
        params: BatchParamsSchema,
        response: { 200: z.object({ batch_id: z.string(), queued: z.number().int() }), ...errors(401, 404, 409) },
      },
    },
    async (request) => {
      const result = await releaseBatch(store, queue, request.params.id);
      return { batch_id: result.batchId, queued: result.queued };
    },
  );

  api.delete(
    '/api/batches/:id',
    {
      schema: {
        summary: 'Discard a held batch: nothing of it was sent, nothing is kept',
        params: BatchParamsSchema,
        response: { 200: z.object({ batch_id: z.string(), discarded: z.literal(true) }), ...errors(401, 404, 409) },
      },
    },
    async (request) => ({ batch_id: (await discardBatch(store, request.params.id)).batchId, discarded: true as const }),
  );

  api.post(
    '/api/batches/:id/cancel',
    {
      schema: {
        summary: 'Stop the remaining rows; keep what was created (paylinks cancel)',
        params: BatchParamsSchema,
        response: { 200: z.object({ batch_id: z.string(), state: z.string(), cancelled_rows: z.number().int() }), ...errors(401, 404) },
      },
    },
    async (request) => {
      const result = await cancelBatch(store, queue, request.params.id);
      return { batch_id: result.batchId, state: result.state, cancelled_rows: result.cancelledRows };
    },
  );

  api.post(
    '/api/batches/:id/retry',
    {
      schema: {
        summary: 'Queue the failed rows again (paylinks retry)',
        params: BatchParamsSchema,
        querystring: z.object({
          include_unknown: booleanOption.describe(
            'true: also the rows that failed UNKNOWN_OUTCOME (Paywint may hold a link for them), each sent once more; ask the person to look at Paywint first (paylinks retry --include-unknown)',
          ),
        }),
        response: {
          200: z.object({
            batch_id: z.string(),
            requeued: z.number().int(),
            unknown_left: z.number().int().describe('failed UNKNOWN_OUTCOME rows left unsent (Paywint may hold a link for them); 0 with include_unknown'),
          }),
          ...errors(401, 404, 409, 410),
        },
      },
    },
    async (request) => {
      const result = await retryFailedRows(store, queue, request.params.id, { includeUnknown: request.query.include_unknown });
      return { batch_id: result.batchId, requeued: result.requeued, unknown_left: result.unknownLeft };
    },
  );
}
