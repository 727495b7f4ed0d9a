/**
 * `paylinks ledger export` and `paylinks ledger import`, spawned as a user
 * types them, around a spawned `paylinks run`: what they print, their exit
 * codes, the files they write, and the simulator's ledger.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOutputCsv } from '../helpers/csv.js';
import { runCliToEnd } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';
import { API_KEY, API_SECRET, invoiceNumber, paylinksEnv, useWorkspace, writeInvoiceFile } from './support.js';

const ws = useWorkspace('ledger-cli', 'ledgercli');

function uuid(i: number): string {
  return `11111111-2222-4333-8444-${String(i).padStart(12, '0')}`;
}

describe('paylinks ledger (spawned)', () => {
  it('import, then run: imported invoices exist with their links, nothing new at Paywint; export writes the whole ledger', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim });
    // Invoices 1 to 4 were linked by another tool before paylinks.
    const before = path.join(ws.dir, 'before.csv');
    const lines = ['Invoice Number;Amount;Memo;Payment ID;Payment Link;Created'];
    for (let i = 1; i <= 4; i += 1) lines.push(`${invoiceNumber(i)};${(i % 900) + 10},${String(i % 100).padStart(2, '0')};Invoice ${i};${uuid(i)};https://pay.example.com/l/${uuid(i)};2025-12-0${i}`);
    await writeFile(before, lines.join('\n') + '\n');

    const imported = await runCliToEnd(['ledger', 'import', before], { env });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout.trim()).toBe(`Imported 4 entries from ${before} into the ledger.`);

    const file = await writeInvoiceFile(ws.dir, 'december.csv', 10);
    const output = path.join(ws.dir, 'december.out.csv');
    const run = await runCliToEnd(['run', file, '-o', output], { env, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const rows = (await readOutputCsv(output)).rows;
    expect(rows.slice(0, 4).map((r) => [r.invoice_number, r.status, r.payment_id, r.payment_link])).toEqual(
      [1, 2, 3, 4].map((i) => [invoiceNumber(i), 'exists', uuid(i), `https://pay.example.com/l/${uuid(i)}`]),
    );
    expect(rows.slice(4).every((r) => r.status === 'created')).toBe(true);
    expect(sim.ledger().map((l) => l.invoiceNumber).sort()).toEqual([5, 6, 7, 8, 9, 10].map(invoiceNumber));

    // To a file: a summary on stdout; to stdout: the CSV itself.
    const exported = path.join(ws.dir, 'ledger.csv');
    const toFile = await runCliToEnd(['ledger', 'export', '-o', exported], { env });
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(toFile.stdout.trim()).toBe(`10 of 10 ledger entries written to ${exported}`);
    const fromFile = (await readOutputCsv(exported)).rows;
    expect(fromFile.map((r) => r.invoice_number).sort()).toEqual(rows.map((r) => r.invoice_number));
    for (const row of rows) expect(fromFile.find((r) => r.invoice_number === row.invoice_number)).toMatchObject({ payment_id: row.payment_id, payment_link: row.payment_link, amount: row.amount });
    expect(fromFile.find((r) => r.invoice_number === invoiceNumber(2))).toMatchObject({ created_at: '2025-12-02T00:00:00.000Z' });

    const toStdout = await runCliToEnd(['ledger', 'export', '--since', '2025-12-03'], { env });
    expect(toStdout.code, toStdout.stderr).toBe(0);
    expect(toStdout.stdout.startsWith('\uFEFFinvoice_number,amount,description,payment_id,payment_link,created_at,batch,payment_status,amount_paid,paid_at,failure_reason,confirmed_at,confirmed_by\r\n')).toBe(true);
    const since = toStdout.stdout.trim().split('\r\n').slice(1).map((l) => l.split(',')[0]);
    expect(since.sort()).toEqual([3, 4, 5, 6, 7, 8, 9, 10].map(invoiceNumber));

    // Imported again: nothing changes.
    const again = await runCliToEnd(['ledger', 'import', before], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(`Imported 0 entries from ${before} into the ledger (4 entries already there, unchanged).`);
  }, 120_000);

  it('bad rows and conflicts exit 1, name their lines and write nothing; a bad --since and a missing account exit 2', async () => {
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix });
    const good = path.join(ws.dir, 'good.csv');
    await writeFile(good, `invoice_number,amount,payment_id,payment_link\nK-1,10.00,${uuid(1)},https://pay.example.com/l/1\n`);
    expect((await runCliToEnd(['ledger', 'import', good], { env })).code).toBe(0);

    const bad = path.join(ws.dir, 'bad.csv');
    await writeFile(bad, [
      'invoice_number,amount,payment_id,payment_link',
      `K-2,12.00,${uuid(2)},https://pay.example.com/l/2`,
      `K-1,10.00,${uuid(9)},https://pay.example.com/l/9`,
      `K-3,12.00,${uuid(3)},ftp://pay.example.com/l/3`,
      '',
    ].join('\n'));
    const result = await runCliToEnd(['ledger', 'import', bad], { env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^2 of 3 rows cannot be imported; nothing was imported:$/m);
    expect(result.stdout).toMatch(/^ {2}line 3: K-1 — LEDGER_CONFLICT: invoice K-1 already has link 11111111-2222-4333-8444-000000000001/m);
    expect(result.stdout).toMatch(/^ {2}line 4: K-3 — INVALID_PAYMENT_LINK: /m);
    const json = await runCliToEnd(['ledger', 'import', bad, '--json'], { env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ rows: 3, imported: 0, problems: [{ line: 3, invoice_number: 'K-1', code: 'LEDGER_CONFLICT' }, { line: 4, code: 'INVALID_PAYMENT_LINK' }] });

    const exported = path.join(ws.dir, 'after.csv');
    expect((await runCliToEnd(['ledger', 'export', '-o', exported], { env })).code).toBe(0);
    expect((await readOutputCsv(exported)).rows.map((r) => r.invoice_number)).toEqual(['K-1']);

    const since = await runCliToEnd(['ledger', 'export', '--since', 'last week'], { env });
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('expected an ISO 8601 date or time such as 2026-11-01 or 2026-11-01T09:30:00Z, got "last week"');
    const noAccount = await runCliToEnd(['ledger', 'export'], { env: { REDIS_URL: env.REDIS_URL!, PAYLINKS_PREFIX: ws.prefix } });
    expect(noAccount.code).toBe(2);
    expect(noAccount.stderr).toContain('PAYWINT_API_KEY');
    const missing = await runCliToEnd(['ledger', 'import', path.join(ws.dir, 'nope.csv')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('FILE_NOT_FOUND');
    expect(await readFile(exported, 'utf8')).not.toContain('K-2');
  }, 120_000);
});
