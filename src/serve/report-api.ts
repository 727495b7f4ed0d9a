/**
 * The reconciliation report routes (`/api/batches/{id}/report.{json,csv,xlsx}`):
 * thin, like `paylinks report`, which runs the same library code
 * (src/pipeline/report/).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AGING_BUCKETS } from '../pipeline/payment-status/collection.js';
import { EXCEPTION_KINDS } from '../pipeline/payment-status/exceptions.js';
import { PAYMENT_STATES } from '../pipeline/payment-status/model.js';
import { ROW_STATUSES } from '../pipeline/output.js';
import { openReport, reportJson, reportJsonWith, writeReportFile, type ReportJson, type ReportTotals } from '../pipeline/report/index.js';
import { BatchParamsSchema } from './batches-api.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';

const CountAndAmount = z.object({ count: z.number().int(), amount: z.string().describe('decimal string') });

const SummarySchema = z.object({
  rows: z.number().int().describe("the batch's input rows"),
  links: z.number().int().describe('rows with a link'),
  linkedAmount: z.string(),
  byStatus: z.object(Object.fromEntries(PAYMENT_STATES.map((s) => [s, CountAndAmount])) as Record<(typeof PAYMENT_STATES)[number], typeof CountAndAmount>),
  paidAmount: z.string().describe('what Paywint says was paid on the links'),
  collectedPercent: z.number().describe('paidAmount / linkedAmount x 100, rounded down to two decimals'),
  aging: z.object(Object.fromEntries(AGING_BUCKETS.map((b) => [b, CountAndAmount])) as Record<(typeof AGING_BUCKETS)[number], typeof CountAndAmount>).describe('links not paid, by days since the link was made'),
  exceptions: z.number().int(),
  collected: z.boolean().describe('every link is paid'),
  withoutLink: z.number().int(),
});

const ExceptionSchema = z.object({
  id: z.string(),
  kind: z.enum(EXCEPTION_KINDS),
  paymentId: z.string(),
  invoiceNumber: z.string().nullable(),
  amount: z.string().nullable(),
  detail: z.string(),
  at: z.string(),
  likelyInvoices: z.array(z.string()),
});

const RowSchema = z.object({
  line: z.number().int().nullable().describe("the row's line in the input file; null in a report from the ledger"),
  invoice_number: z.string(),
  amount: z.string(),
  payment_id: z.string(),
  payment_link: z.string(),
  payment_status: z.enum([...PAYMENT_STATES, '']),
  amount_paid: z.string(),
  paid_at: z.string(),
  failure_reason: z.string(),
  exception: z.string().describe('kinds of the exceptions naming the invoice, space-separated'),
  output_status: z.enum(ROW_STATUSES),
  link_created_at: z.string(),
  confirmed_at: z.string(),
  confirmed_by: z.string(),
  emailed_at: z.string().describe("when the invoice's first message went out (ISO 8601); '' when it has not"),
  email_status: z.string().describe('sent, sending, retrying: …, bounced: <the server\'s reply>, failed: …, unknown: …, not sent: <why>, no address; \'\' without an address column'),
  reminders_sent: z.string(),
  last_reminder_at: z.string(),
});

export const ReportJsonSchema = z.object({
  batchId: z.string(),
  generatedAt: z.string(),
  source: z.enum(['batch', 'ledger']).describe('batch: every input row; ledger: the rows expired, the links the batch made, from the ledger'),
  summary: SummarySchema,
  exceptions: z.array(ExceptionSchema),
  rows: z.array(RowSchema).optional(),
  totalRows: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
});

const FILE_TYPES = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorReplySchema]));

/**
 * The totals of recent report passes, per batch, in this process: a page
 * that polls the report (or turns its pages) reads only its rows while the
 * totals are fresh. Fresh for three times as long as the pass took (at
 * least 2 s, at most a minute), so a large batch is not added up again on
 * every poll; requests during a pass wait for it instead of starting another.
 */
class TotalsCache {
  readonly #entries = new Map<string, { freshUntil: number; totals: Promise<ReportTotals> }>();

  fresh(batchId: string): Promise<ReportTotals> | undefined {
    const entry = this.#entries.get(batchId);
    return entry && entry.freshUntil > performance.now() ? entry.totals : undefined;
  }

  compute(batchId: string, pass: () => Promise<ReportJson>): Promise<ReportJson> {
    const started = performance.now();
    const answer = pass();
    const entry = { freshUntil: Infinity, totals: answer.then((j) => ({ summary: j.summary, exceptions: j.exceptions })) };
    entry.totals.catch(() => this.#entries.delete(batchId));
    void answer.then(
      () => (entry.freshUntil = performance.now() + Math.min(60_000, Math.max(2_000, 3 * (performance.now() - started)))),
      () => undefined,
    );
    this.#entries.delete(batchId);
    this.#entries.set(batchId, entry);
    if (this.#entries.size > 50) this.#entries.delete(this.#entries.keys().next().value!);
    return answer;
  }
}

export async function reportApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const totalsCache = new TotalsCache();
  const { store, redis, keys } = ctx.backend;
  const deps = { store, redis, keys };

  api.get(
    '/api/batches/:id/report.json',
    {
      schema: {
        summary: "The batch's reconciliation report: summary, exceptions and a page of rows in file order (rows=0: no rows)",
        params: BatchParamsSchema,
        querystring: z.object({
          offset: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
          rows: z.enum(['0', '1']).default('1').describe('0: the summary and exceptions only'),
        }),
        response: { 200: ReportJsonSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { offset, limit, rows } = request.query;
      const page = { offset, limit, rows: rows === '1' };
      const report = await openReport(deps, request.params.id);
      const cached = totalsCache.fresh(report.batch.id);
      if (cached) return reportJsonWith(report, await cached, page);
      return totalsCache.compute(report.batch.id, () => reportJson(report, page));
    },
  );

  for (const [ext, type] of Object.entries(FILE_TYPES)) {
    api.get(
      `/api/batches/:id/report.${ext}`,
      {
        schema: {
          summary: ext === 'csv' ? 'The reconciliation report as CSV, every row (paylinks report BATCH -o report.csv)' : 'The reconciliation report as an Excel workbook (paylinks report BATCH -o report.xlsx)',
          produces: [type.split(';')[0]!],
          params: BatchParamsSchema,
          response: { 200: z.any().describe(type), ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        const report = await openReport(deps, request.params.id);
        const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-report-'));
        const file = path.join(dir, `report.${ext}`);
        try {
          await writeReportFile(report, file);
        } catch (error) {
          await rm(dir, { recursive: true, force: true });
          throw error;
        }
        const stream = createReadStream(file);
        stream.on('close', () => void rm(dir, { recursive: true, force: true }));
        const name = `${path.parse(report.batch.file).name}.report.${ext}`;
        return reply
          .header('content-type', type)
          .header('content-disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
          .send(stream);
      },
    );
  }
}
