/**
 * `GET /api/invoices/{invoiceNumber}`: one invoice across every batch of the
 * account: its link, the batch that made it, its payment status and the
 * exceptions naming it (issue 17, item 6; the contract is seam 2 of the
 * coordinator's notes). Invoice numbers compare as src/core/invoice-key.ts
 * says: `inv-7` finds `INV-7`.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PaylinksError } from '../core/errors.js';
import { formatCents } from '../core/money.js';
import { quoteValue } from '../core/quote.js';
import { findInvoice, MAX_LOOKUP_CHARACTERS, type FoundInvoice } from '../pipeline/invoice-lookup.js';
import { EXCEPTION_KINDS, PAYMENT_STATES } from '../pipeline/payment-status/index.js';
import { BATCH_STATES, type BatchStore } from '../pipeline/batch-store.js';
import type { ServeContext } from './context.js';
import { ErrorReplySchema } from './http-errors.js';

const money = z.string().describe('a decimal string');

export const InvoiceExceptionJsonSchema = z.object({
  id: z.string(),
  kind: z.enum(EXCEPTION_KINDS),
  payment_id: z.string(),
  invoice_number: z.string().nullable(),
  amount: money.nullable().describe("Paywint's amount of that payment, when it was read"),
  likely_invoices: z.array(z.string()).describe('for a stray payment: the invoices it most likely belongs to'),
  detail: z.string(),
  at: z.string().describe('when paylinks found it (ISO 8601)'),
});

export const InvoiceJsonSchema = z.object({
  invoice_number: z.string().describe('as the file wrote it'),
  amount: money,
  description: z.string().nullable(),
  payment_id: z.string(),
  payment_link: z.string(),
  link_created_at: z.string(),
  batch: z
    .object({
      id: z.string(),
      file: z.string().nullable().describe('null once the batch itself was removed (the ledger keeps its links)'),
      created_at: z.string().nullable(),
      state: z.enum(BATCH_STATES).nullable(),
      line: z.number().int().nullable().describe("the invoice's line in that file, while the batch's rows are kept"),
    })
    .describe('the batch that made the link'),
  payment_status: z.enum(PAYMENT_STATES),
  amount_paid: money.nullable(),
  paid_at: z.string().nullable(),
  failure_reason: z.string().nullable(),
  confirmed_at: z.string().nullable().describe('when Paywint last confirmed the status'),
  confirmed_by: z.enum(['webhook', 'sweep']).nullable(),
  exceptions: z.array(InvoiceExceptionJsonSchema),
});
export type InvoiceJson = z.infer<typeof InvoiceJsonSchema>;

async function batchOf(store: BatchStore, found: FoundInvoice): Promise<InvoiceJson['batch']> {
  const { batchId, row } = found.entry;
  const batch = await store.get(batchId);
  if (!batch) return { id: batchId, file: null, created_at: null, state: null, line: null };
  const rows = row < batch.rows ? await store.readRows(batchId, row, 1).catch(() => []) : [];
  return { id: batchId, file: batch.file, created_at: batch.createdAt, state: batch.state, line: rows[0]?.line ?? null };
}

export async function invoiceToJson(store: BatchStore, found: FoundInvoice): Promise<InvoiceJson> {
  const { entry, status } = found;
  return {
    invoice_number: found.invoiceNumber,
    amount: formatCents(entry.amountCents),
    description: entry.description,
    payment_id: entry.paymentId,
    payment_link: entry.paymentLink,
    link_created_at: entry.createdAt,
    batch: await batchOf(store, found),
    payment_status: status.state,
    amount_paid: status.state === 'paid' ? formatCents(status.amountPaidCents ?? entry.amountCents) : status.amountPaidCents === null ? null : formatCents(status.amountPaidCents),
    paid_at: status.paidAt,
    failure_reason: status.failureReason,
    confirmed_at: status.confirmedAt,
    confirmed_by: status.confirmedBy,
    exceptions: found.exceptions.map((e) => ({
      id: e.id,
      kind: e.kind,
      payment_id: e.paymentId,
      invoice_number: e.invoiceNumber,
      amount: e.amountCents === null || e.amountCents === undefined ? null : formatCents(e.amountCents),
      likely_invoices: e.likelyInvoices ?? [],
      detail: e.detail,
      at: e.at,
    })),
  };
}

export async function invoicesApi(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  const { redis, keys, store } = ctx.backend;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/invoices/:invoiceNumber',
    {
      schema: {
        summary: "One invoice, whichever batch made its link: the link, its batch, its payment status, the exceptions naming it (case and surrounding space ignored: inv-7 finds INV-7)",
        params: z.object({ invoiceNumber: z.string().min(1).max(MAX_LOOKUP_CHARACTERS).describe('the invoice number') }),
        response: { 200: InvoiceJsonSchema, 400: ErrorReplySchema, 401: ErrorReplySchema, 404: ErrorReplySchema },
      },
    },
    async (request) => {
      const query = request.params.invoiceNumber;
      if (query.trim() === '') throw new PaylinksError('BAD_REQUEST', 'params.invoiceNumber: give an invoice number');
      const found = await findInvoice(redis, keys, ctx.account, query);
      if (found === null) throw new PaylinksError('INVOICE_NOT_FOUND', `no payment link for invoice ${quoteValue(query.trim())}: no batch of this account made one`);
      return invoiceToJson(store, found);
    },
  );
}
