/**
 * The HTTP API of a running `paylinks serve` (spawned as a user starts it),
 * the Paywint simulator behind it: every status code the API documents, the
 * output byte for byte what `collect` writes, each invoice created once.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { readOutputCsv } from '../helpers/csv.js';
import { killSpawned, runCliToEnd } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, tempDir } from '../processes/support.js';
import { answers, Client, invoicesCsv, startServe, TOKEN, type RunningServe } from './support.js';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let serve: RunningServe;
let env: Record<string, string>;
let api: Client;

beforeAll(async () => {
  dir = await tempDir('serve-api');
  prefix = uniquePrefix('serve');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  // 50 kB uploads at most: small enough to test the limit, large enough for every file below.
  env = paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: `other-token-${'x'.repeat(30)},${TOKEN}`, PAYLINKS_MAX_UPLOAD_MB: '0.05' } });
  serve = await startServe(env);
  api = new Client(serve.url);
});

afterAll(async () => {
  await killSpawned();
  await sim.close();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

/** The `collect` command's output file for a batch, as bytes. */
async function collectBytes(batchId: string): Promise<Buffer> {
  const out = path.join(dir, `${batchId}.collect.csv`);
  const result = await runCliToEnd(['collect', batchId, '-o', out], { env });
  expect(result.code, result.stderr).toBeLessThan(2);
  return readFile(out);
}

function linksOf(invoice: string): number {
  return sim.ledger().filter((e) => e.invoiceNumber === invoice).length;
}

describe('paylinks serve: the API over HTTP', () => {
  it('multipart upload: 201, the batch runs; output.csv is byte for byte what collect writes; each invoice once at Paywint', async () => {
    const csv = invoicesCsv(30, 1);
    const created = await api.upload('march.csv', csv);
    expect(created.status, created.text).toBe(201);
    const body = created.json as { batch_id: string; state: string; rows: number; valid: number; invalid: number; total_amount: string; errors: unknown[] };
    expect(body).toMatchObject({ state: 'queued', rows: 30, valid: 30, invalid: 0, errors: [] });
    const done = await api.waitFinished(body.batch_id);
    expect(done).toMatchObject({ state: 'completed', file: 'march.csv', counts: { created: 30 } });

    const output = await api.request(`/api/batches/${body.batch_id}/output.csv`);
    expect(output.status).toBe(200);
    expect(output.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(output.headers.get('content-disposition')).toContain('march.out.csv');
    expect(output.bytes.equals(await collectBytes(body.batch_id))).toBe(true);

    const { rows } = await readOutputCsv(path.join(dir, `${body.batch_id}.collect.csv`));
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      expect(row.status).toBe('created');
      expect(linksOf(row.invoice_number!), row.invoice_number).toBe(1);
      expect(sim.ledger().find((e) => e.invoiceNumber === row.invoice_number)?.paymentId).toBe(row.payment_id);
    }
  });

  it('raw body (Content-Type: text/csv, ?filename=): 201 under that name; the same file again while unfinished: 200, the same batch', async () => {
    const csv = invoicesCsv(5, 100);
    const raw = (query: string) => api.request(`/api/batches${query}`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
    const first = await raw('?filename=april.csv&hold=true');
    expect(first.status, first.text).toBe(201);
    const id = (first.json as { batch_id: string }).batch_id;
    expect(((await api.request(`/api/batches/${id}`)).json as { file: string }).file).toBe('april.csv');

    const again = await raw('?filename=april-again.csv');
    expect(again.status, again.text).toBe(200);
    expect(again.json).toMatchObject({ batch_id: id, state: 'held', rows: 5 });

    // Released and finished, the same file makes a new batch whose rows already have their links.
    expect((await api.request(`/api/batches/${id}/release`, { method: 'POST' })).status).toBe(200);
    await api.waitFinished(id);
    const later = await raw('?filename=april.csv');
    expect(later.status, later.text).toBe(201);
    const laterId = (later.json as { batch_id: string }).batch_id;
    expect(laterId).not.toBe(id);
    expect(await api.waitFinished(laterId)).toMatchObject({ state: 'completed', counts: { created: 0, exists: 5 } });
    for (let i = 100; i < 105; i += 1) expect(linksOf(`SRV-${String(i).padStart(6, '0')}`)).toBe(1);
  });

  it('dry_run=true: 200 with the validate --json report; nothing stored', async () => {
    const fixture = path.join(REPO_ROOT, 'fixtures', 'bad-rows.csv');
    const before = (await api.request('/api/batches?limit=100')).json as unknown[];
    const dry = await api.upload('bad-rows.csv', await readFile(fixture), '', { dry_run: 'true' });
    expect(dry.status, dry.text).toBe(200);
    const cli = await runCliToEnd(['validate', fixture, '--json'], { env });
    // The report of validate (which reads no ledger), and what the ledger holds for the valid rows.
    expect(dry.json).toEqual({ ...JSON.parse(cli.stdout), ledger: expect.any(Object) });
    expect((await api.request('/api/batches?limit=100')).json).toHaveLength(before.length);
  });

  it('an Excel workbook (written by LibreOffice): dry run with sheet as a form field equals validate --sheet; as a raw body it runs: each valid invoice once at Paywint, nothing for the totals line or a too-precise amount', async () => {
    const several = path.join(REPO_ROOT, 'fixtures', 'workbooks', 'several-sheets.xlsx');
    const dry = await api.upload('several-sheets.xlsx', await readFile(several), '?dry_run=true', { sheet: '2' });
    expect(dry.status, dry.text).toBe(200);
    const cli = await runCliToEnd(['validate', several, '--sheet', '2', '--json'], { env });
    expect(dry.json).toEqual({ ...JSON.parse(cli.stdout), ledger: expect.any(Object) });
    expect(dry.json).toMatchObject({ format: 'workbook', sheet: 'March' });

    const workbook = path.join(REPO_ROOT, 'fixtures', 'workbooks', 'invoices.xlsx');
    const xlsx = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    const raw = await api.request('/api/batches?filename=invoices.xlsx', { method: 'POST', headers: { 'content-type': xlsx }, body: await readFile(workbook) });
    expect(raw.status, raw.text).toBe(201);
    const body = raw.json as { batch_id: string; valid: number; invalid: number; errors: { line: number; code: string }[] };
    const report = JSON.parse((await runCliToEnd(['validate', workbook, '--json'], { env })).stdout) as { valid: number; invalid: number; errors: { line: number; code: string }[] };
    expect([body.valid, body.invalid]).toEqual([report.valid, report.invalid]);
    expect(body.errors.map((e) => [e.line, e.code])).toEqual(report.errors.map((e) => [e.line, e.code]));
    await api.waitFinished(body.batch_id);
    const output = await api.request(`/api/batches/${body.batch_id}/output.csv`);
    expect(output.headers.get('content-disposition')).toContain('invoices.out.csv');
    expect(output.bytes.equals(await collectBytes(body.batch_id))).toBe(true);
    const { rows } = await readOutputCsv(path.join(dir, `${body.batch_id}.collect.csv`));
    const created = rows.filter((r) => r.status === 'created');
    expect(created).toHaveLength(report.valid);
    expect(rows.find((r) => r['Invoice Number'] === 'Total')?.error_code).toBe('SUMMARY_ROW');
    expect(sim.ledger().some((e) => e.invoiceNumber === 'Total' || e.invoiceNumber === 'INV-0003')).toBe(false);
    for (const row of created) {
      const links = sim.ledger().filter((e) => e.invoiceNumber === row['Invoice Number']);
      expect(links, row['Invoice Number']).toHaveLength(1);
      expect(links[0]!.paymentId).toBe(row.payment_id);
    }
  });

  it('hold=true: held with its row errors by line; 409 for its output; released it runs; paged errors; discard and release only while held', async () => {
    const csv = invoicesCsv(6, 200, ['SRV-000200,12.00,duplicate of line 2', 'SRV-000299,abc,bad amount', ',5.00,no number']);
    const held = await api.upload('may.csv', csv, '?hold=true');
    expect(held.status, held.text).toBe(201);
    const body = held.json as { batch_id: string; state: string; errors: { line: number; code: string }[]; total_amount: string };
    expect(body.state).toBe('held');
    expect(body.total_amount).toBe(invoicesCsvTotal(6, 200));
    expect(body.errors.map((e) => [e.line, e.code])).toEqual([
      [8, 'DUPLICATE_INVOICE'],
      [9, 'INVALID_AMOUNT'],
      [10, 'MISSING_INVOICE_NUMBER'],
    ]);
    const status = (await api.request(`/api/batches/${body.batch_id}`)).json as { hold_expires_at: string; total_amount: string };
    expect(status.total_amount).toBe(body.total_amount);
    expect(Date.parse(status.hold_expires_at) - Date.now()).toBeGreaterThan(23.9 * 3600_000);

    const early = await api.request(`/api/batches/${body.batch_id}/output.csv`);
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({ code: 'BATCH_NOT_FINISHED' });
    expect(sim.ledger().some((e) => e.invoiceNumber === 'SRV-000200')).toBe(false);

    const page1 = await api.request(`/api/batches/${body.batch_id}/errors?limit=2`);
    expect(page1.json).toMatchObject({ errors: [{ line: 8 }, { line: 9 }], next: 8 });
    const page2 = await api.request(`/api/batches/${body.batch_id}/errors?limit=2&from=8`);
    expect(page2.json).toMatchObject({ errors: [{ line: 10, invoice_number: '', code: 'MISSING_INVOICE_NUMBER' }], next: null });

    const released = await api.request(`/api/batches/${body.batch_id}/release`, { method: 'POST' });
    expect(released.status, released.text).toBe(200);
    expect(released.json).toEqual({ batch_id: body.batch_id, queued: 6 });
    expect((await api.request(`/api/batches/${body.batch_id}/release`, { method: 'POST' })).json).toMatchObject({ code: 'BATCH_NOT_HELD' });
    expect((await api.request(`/api/batches/${body.batch_id}`, { method: 'DELETE' })).status).toBe(409);
    const done = await api.waitFinished(body.batch_id);
    expect(done).toMatchObject({ state: 'completed_with_errors', counts: { created: 6, duplicate: 1, invalid: 2 } });
    const output = await api.request(`/api/batches/${body.batch_id}/output.csv`);
    expect(output.bytes.equals(await collectBytes(body.batch_id))).toBe(true);

    // Another held batch, discarded: gone, nothing sent.
    const other = await api.upload('june.csv', invoicesCsv(3, 300), '?hold=true');
    const otherId = (other.json as { batch_id: string }).batch_id;
    const discarded = await api.request(`/api/batches/${otherId}`, { method: 'DELETE' });
    expect(discarded.status).toBe(200);
    expect((await api.request(`/api/batches/${otherId}`)).status).toBe(404);
    expect(sim.ledger().some((e) => e.invoiceNumber === 'SRV-000300')).toBe(false);
  });

  it('events: Server-Sent progress until a finished event', async () => {
    const held = await api.upload('july.csv', invoicesCsv(20, 400), '?hold=true');
    const id = (held.json as { batch_id: string }).batch_id;
    const response = await fetch(`${serve.url}/api/batches/${id}/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await api.request(`/api/batches/${id}/release`, { method: 'POST' });
    const text = await response.text(); // the stream ends after `finished`
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) as { state: string; done: number } }));
    expect(events[0]!.event).toBe('progress');
    expect(events.at(-1)).toMatchObject({ event: 'finished', data: { state: 'completed', done: 20 } });
  });

  it('401 without a token or with a wrong one; /healthz needs none; /metrics and /api/openapi.json need one', async () => {
    const none = await new Client(serve.url, null).request('/api/batches');
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const wrong = await new Client(serve.url, 'not-the-token-not-the-token-not-the-token').request('/api/batches');
    expect(wrong.status).toBe(401);
    expect((await new Client(serve.url, null).request('/metrics')).status).toBe(401);
    expect((await new Client(serve.url, null).request('/api/openapi.json')).status).toBe(401);

    const health = await new Client(serve.url, null).request('/healthz');
    expect([health.status, health.text]).toEqual([200, 'ok\n']);
    const metrics = await api.request('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('paylinks_paywint_requests_total{outcome="created"}');
    // The other configured token works too.
    expect((await new Client(serve.url, `other-token-${'x'.repeat(30)}`).request('/api/batches')).status).toBe(200);
  });

  it('the OpenAPI document describes every route', async () => {
    const doc = (await api.request('/api/openapi.json')).json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/api/batches', '/api/batches/{id}', '/api/batches/{id}/errors', '/api/batches/{id}/events', '/api/batches/{id}/output.csv', '/api/batches/{id}/output.xlsx', '/api/batches/{id}/report.json', '/api/batches/{id}/report.csv', '/api/batches/{id}/report.xlsx', '/api/batches/{id}/mail/preview', '/api/batches/{id}/mail/send', '/api/batches/{id}/mail', '/api/server', '/api/invoices/{invoiceNumber}', '/api/payments/events', '/api/batches/{id}/release', '/api/batches/{id}/cancel', '/api/batches/{id}/retry', '/healthz', '/metrics', '/api/openapi.json'].sort(),
    );
    expect(Object.keys(doc.paths['/api/batches/{id}']!).sort()).toEqual(['delete', 'get']);
  });

  it('404, 413, 415 and a file error 422 with its line: each a JSON {code, message}; a file error stores nothing', async () => {
    const missing = await api.request('/api/batches/20990101T000000-abcdef');
    expect([missing.status, (missing.json as { code: string }).code]).toEqual([404, 'BATCH_NOT_FOUND']);
    expect((await api.request('/api/nothing-here')).status).toBe(404);

    const before = ((await api.request('/api/batches?limit=100')).json as unknown[]).length;
    const big = invoicesCsv(2000, 10_000); // about 64 kB, over the 50 kB limit
    expect(big.length).toBeGreaterThan(50_000);
    const tooBig = await api.upload('big.csv', big);
    expect([tooBig.status, (tooBig.json as { code: string }).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect((tooBig.json as { message: string }).message).toContain('PAYLINKS_MAX_UPLOAD_MB');
    const tooBigRaw = await api.request('/api/batches', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: big });
    expect(tooBigRaw.status).toBe(413);

    const json = await api.request('/api/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"file":"x"}' });
    expect([json.status, (json.json as { code: string }).code]).toEqual([415, 'UNSUPPORTED_FILE']);
    const workbook = await api.upload('march.xlsx', Buffer.from('PK\x03\x04 not really a workbook', 'latin1'));
    expect(workbook.status).toBe(415);
    expect((workbook.json as { message: string }).message).toContain('save it as CSV');

    const broken = await api.upload('broken.csv', await readFile(path.join(REPO_ROOT, 'fixtures', 'unterminated-quote.csv')));
    expect(broken.status).toBe(422);
    expect(broken.json).toMatchObject({ code: 'FILE_UNTERMINATED_QUOTE', line: 5 });
    expect((broken.json as { message: string }).message).toMatch(/^broken\.csv:5: /);
    const noAmount = await api.upload('no-amount.csv', 'invoice_number,total_due\nA-1,5.00\n', '?columns=amount=nope');
    expect(noAmount.status).toBe(422);
    expect(noAmount.json).toMatchObject({ code: 'FILE_MISSING_COLUMN' });
    const badOption = await api.upload('x.csv', invoicesCsv(1, 900), '', { delimiter: 'x' });
    expect([badOption.status, (badOption.json as { code: string }).code]).toEqual([400, 'BAD_REQUEST']);
    expect(((await api.request('/api/batches?limit=100')).json as unknown[]).length).toBe(before);
  });

  it('the ledger in the dry run and in a held batch: new invoices, those with a link already (same amount), those with a link for another amount; totals', async () => {
    const first = await api.upload('sep.csv', invoicesCsv(3, 7000));
    await api.waitFinished((first.json as { batch_id: string }).batch_id);
    // 7000 and 7001 as before, 7002 for another amount, 7003 and 7004 new; one invalid row.
    const again = invoicesCsv(5, 7000).replace('SRV-007002,712.02', 'SRV-007002,99.00') + 'SRV-007005,abc,bad\n';
    const empty = { new: 0, new_amount: '0.00', linked: 0, linked_amount: '0.00', conflicts: 0, conflicts_amount: '0.00' };
    const expected = { new: 2, new_amount: '1427.07', linked: 2, linked_amount: '1421.01', conflicts: 1, conflicts_amount: '99.00' };
    const dry = await api.upload('sep-again.csv', again, '?dry_run=true');
    expect(dry.status, dry.text).toBe(200);
    expect(dry.json).toMatchObject({ rows: 6, valid: 5, ledger: expected });
    const held = await api.upload('sep-again.csv', again, '?hold=true');
    expect(held.status, held.text).toBe(201);
    const id = (held.json as { batch_id: string }).batch_id;
    expect(held.json).toMatchObject({ state: 'held', ledger: expected });
    const status = await api.request(`/api/batches/${id}`);
    expect(status.json).toMatchObject({ state: 'held', simulated: false, ledger: expected });
    expect((status.json as { read_as: unknown }).read_as).toEqual({
      format: 'csv', headers: ['invoice_number', 'amount', 'description'], invoice_column: 0, amount_column: 1, description_column: 2, delimiter: ',', sheet: null, decimal: 'point',
    });
    // Released and run: what the preview said is what happened.
    await api.request(`/api/batches/${id}/release`, { method: 'POST' });
    const done = await api.waitFinished(id);
    expect(done.counts).toMatchObject({ created: 2, exists: 2, conflict: 1, invalid: 1 });
    expect(done.ledger).toBeNull();
    // Nothing matches in an empty file's eyes: a file of new invoices only.
    expect(((await api.upload('new.csv', invoicesCsv(2, 8800), '?dry_run=true')).json as { ledger: unknown }).ledger).toEqual({ ...empty, new: 2, new_amount: '1421.01' });
  });

  it('a file error says what was found: the header line (for columns), the delimiter, the sheets of a workbook', async () => {
    const noAmount = await api.upload('no-amount.csv', 'Acme invoices\ninvoice_number;customer;price\nA-1;Acme;5.00\n');
    expect(noAmount.status).toBe(422);
    expect(noAmount.json).toMatchObject({ code: 'FILE_MISSING_COLUMN', found: { headers: ['invoice_number', 'customer', 'price'], header_line: 2, delimiter: ';' } });
    const chosen = await api.upload('no-amount.csv', 'Acme invoices\ninvoice_number;customer;price\nA-1;Acme;5.00\n', '?dry_run=true', { columns: 'amount="price"' });
    expect(chosen.json).toMatchObject({ valid: 1, total_amount: '5.00' });
    const several = await readFile(path.join(REPO_ROOT, 'fixtures', 'workbooks', 'several-sheets.xlsx'));
    const noSheet = await api.upload('several-sheets.xlsx', several, '', { sheet: 'No such sheet' });
    expect(noSheet.status).toBe(422);
    expect(noSheet.json).toMatchObject({ code: 'FILE_MISSING_SHEET', found: { sheets: expect.arrayContaining(['March']) } });
  });

  it('an image or another document is refused by its first bytes (415), in words: not a file of invoices', async () => {
    const png = await api.upload('scan.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    expect([png.status, (png.json as { code: string }).code]).toEqual([415, 'UNSUPPORTED_FILE']);
    expect((png.json as { message: string }).message).toBe('scan.png is a PNG image, not a file of invoices: save it as CSV or as an Excel workbook (.xlsx) and upload that');
    const jpeg = await api.upload('photo.csv', Buffer.from('ffd8ffe000104a464946', 'hex'));
    expect((jpeg.json as { message: string }).message).toMatch(/^photo\.csv is a JPEG image, not a file of invoices/);
  });

  it('output.xlsx: the output as an Excel workbook; /api/server: not simulated', async () => {
    const created = await api.upload('oct.csv', invoicesCsv(3, 9100));
    const id = (created.json as { batch_id: string }).batch_id;
    await api.waitFinished(id);
    const xlsx = await api.request(`/api/batches/${id}/output.xlsx`);
    expect(xlsx.status).toBe(200);
    expect(xlsx.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(xlsx.headers.get('content-disposition')).toContain('filename="oct.out.xlsx"');
    expect(xlsx.bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect((await api.request(`/api/batches/${id}/output.xlsx`.replace(id, '20990101T000000-abcdef'))).status).toBe(404);
    expect((await api.request('/api/server')).json).toEqual({ simulated: false });
  });

  it('cancel and retry as the CLI commands', async () => {
    const held = await api.upload('aug.csv', invoicesCsv(4, 500), '?hold=true');
    const id = (held.json as { batch_id: string }).batch_id;
    const cancelled = await api.request(`/api/batches/${id}/cancel`, { method: 'POST' });
    // A held batch has nothing queued: cancel leaves it as it is (only release or discard end a hold).
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({ batch_id: id, state: 'held', cancelled_rows: 0 });
    const retried = await api.request(`/api/batches/${id}/retry`, { method: 'POST' });
    expect([retried.status, (retried.json as { code: string }).code]).toEqual([409, 'BATCH_NOT_FINISHED']);
    await api.request(`/api/batches/${id}/release`, { method: 'POST' });
    await api.waitFinished(id);
    expect((await api.request(`/api/batches/${id}/retry`, { method: 'POST' })).json).toEqual({ batch_id: id, requeued: 0, unknown_left: 0 });
    expect((await api.request('/api/batches/20990101T000000-abcdef/cancel', { method: 'POST' })).status).toBe(404);
  });

  it('security headers on the page and the API; no answer and no log line carries the secret or a token', async () => {
    const page = await new Client(serve.url, null).request('/');
    expect(page.status).toBe(200);
    for (const a of [page, await api.request('/api/batches')]) {
      expect(a.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
      expect(a.headers.get('x-frame-options')).toBe('DENY');
      expect(a.headers.get('referrer-policy')).toBe('no-referrer');
    }
    for (const a of answers) expect(a.text).not.toContain(API_SECRET);
    const logs = serve.proc.stderr() + serve.proc.stdout();
    expect(logs).not.toContain(API_SECRET);
    expect(logs).not.toContain(TOKEN);
  });
});

function invoicesCsvTotal(n: number, from: number): string {
  let cents = 0;
  for (let i = from; i < from + n; i += 1) cents += ((i % 900) + 10) * 100 + (i % 100);
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

