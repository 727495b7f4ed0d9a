/**
 * A stand-in for `GET /api/batches/{id}/report.json` (seam 1, owned by the
 * report helper), in the documented shape, built from the same parts the
 * real one reads (the batch's rows and results, the payment status reader):
 * the page's tests use it until the real route lands, then it goes.
 */
import { z } from 'zod';
import { PaylinksError } from '../../src/core/errors.js';
import { formatCents } from '../../src/core/money.js';
import { PaymentStatusReader } from '../../src/pipeline/payment-status/index.js';
import type { ServePlugin } from '../../src/serve/server.js';

const cents = formatCents;

export const reportStandIn: ServePlugin = async (app, ctx) => {
  app.addHook('onRequest', ctx.authenticate);
  app.get('/api/batches/:id/report.json', async (request) => {
    const { id } = z.object({ id: z.string() }).parse(request.params);
    const q = z.object({ offset: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(200) }).parse(request.query);
    const { store, redis, keys } = ctx.backend;
    const batch = await store.get(id);
    if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${id}`);
    const reader = new PaymentStatusReader(redis, keys, ctx.account);
    const c = await reader.batchCollection(id);
    const exceptions = await reader.exceptions(id);
    const count = Math.max(0, Math.min(q.limit, batch.rows - q.offset));
    const [rows, results] = count > 0 ? await Promise.all([store.readRows(id, q.offset, count), store.readResults(id, q.offset, count)]) : [[], []];
    const invoices = rows.map((r) => (r.cells[batch.layout.invoice] ?? '').trim());
    const statuses = await reader.readStatuses(invoices.filter((_, i) => results[i]?.paymentId));
    const exceptionOf = new Map(exceptions.map((e) => [e.invoiceNumber, e.kind]));
    return {
      batchId: id,
      generatedAt: new Date().toISOString(),
      summary: {
        rows: batch.rows,
        links: c.links,
        linkedAmount: cents(c.linkedCents),
        byStatus: Object.fromEntries(Object.entries(c.byState).map(([s, v]) => [s, { count: v.count, amount: cents(v.amountCents) }])),
        paidAmount: cents(c.paidCents),
        collectedPercent: c.collectedPercent,
        aging: Object.fromEntries(Object.entries(c.aging).map(([b, v]) => [b, { count: v.count, amount: cents(v.amountCents) }])),
        exceptions: c.exceptions,
        collected: c.collected,
        withoutLink: batch.rows - (batch.counts.created + batch.counts.exists),
      },
      exceptions: exceptions.map((e) => ({
        id: e.id,
        kind: e.kind,
        paymentId: e.paymentId,
        invoiceNumber: e.invoiceNumber,
        amount: e.amountCents === null || e.amountCents === undefined ? null : cents(e.amountCents),
        detail: e.detail,
        at: e.at,
        likelyInvoices: e.likelyInvoices ?? [],
      })),
      rows: rows.map((r, i) => {
        const result = results[i];
        const paid = statuses.get(invoices[i]!);
        const s = paid?.status;
        return {
          line: r.line,
          invoice_number: invoices[i],
          amount: r.cells[batch.layout.amount] ?? '',
          payment_id: result?.paymentId ?? '',
          payment_link: result?.paymentLink ?? '',
          payment_status: s?.state ?? '',
          amount_paid: s?.state === 'paid' ? cents(s.amountPaidCents ?? paid!.entry.amountCents) : '',
          paid_at: s?.paidAt ?? '',
          failure_reason: s?.failureReason ?? '',
          exception: exceptionOf.get(invoices[i]!) ?? '',
          output_status: result?.status ?? '',
        };
      }),
      totalRows: batch.rows,
      offset: q.offset,
      limit: q.limit,
    };
  });
};
