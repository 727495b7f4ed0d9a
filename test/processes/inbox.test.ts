/**
 * The drop folder, used as a finance team uses it: files copied into
 * `inbox/` of a folder that one or more paylinks processes watch; outputs
 * read from `out/`, the simulator's ledger checked for each invoice once.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, lstat, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { readOutputCsv } from '../helpers/csv.js';
import { kill9, runCliToEnd, startInboxProcess, waitFor } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';
import { API_KEY, API_SECRET, checkAgainstLedger, invoiceNumber, linksByInvoice, paylinksEnv, useWorkspace, writeInvoiceFile } from './support.js';

const ws = useWorkspace('inbox', 'inbox');

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** `paylinks status --json`: the recent batches as a user sees them. */
async function batches(env: Record<string, string>): Promise<{ id: string; file: string; source: string | null; rows: number; state: string }[]> {
  const result = await runCliToEnd(['status', '--json'], { env });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { id: string; file: string; source: string | null; rows: number; state: string }[];
}

async function waitForFile(file: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await readFile(file).catch(() => undefined)) !== undefined, file, timeoutMs);
}

describe('drop folder', () => {
  it('takes a file still being written only once it is complete: one batch with every row', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '2000' } });
    const drop = path.join(ws.dir, 'drop');
    await startInboxProcess(drop, env);
    const whole = await readFile(await writeInvoiceFile(ws.dir, 'source.csv', 60));
    const half = Math.floor(whole.length / 2); // mid-line, as a slow copy leaves it

    const target = path.join(drop, 'inbox', 'slow.csv');
    await writeFile(target, whole.subarray(0, half));
    await sleep(1200); // six polls' worth, less than the settle time
    expect(await files(path.join(drop, 'processing')), 'nothing taken while the file was growing').toEqual([]);
    await appendFile(target, whole.subarray(half));

    await waitForFile(path.join(drop, 'out', 'slow.out.csv'));
    const { rows } = await readOutputCsv(path.join(drop, 'out', 'slow.out.csv'));
    expect(rows).toHaveLength(60);
    expect(rows.map((r) => r.status)).toEqual(Array(60).fill('created'));
    expect(sim.ledger()).toHaveLength(60);
    checkAgainstLedger(rows, sim);
    const list = await batches(env);
    expect(list.map((b) => [b.file, b.source, b.rows, b.state])).toEqual([['slow.csv', 'inbox', 60, 'completed']]);
    expect(await readFile(path.join(drop, 'done', 'slow.csv'))).toEqual(whole);
    expect(await files(path.join(drop, 'inbox'))).toEqual([]);
    expect(await files(path.join(drop, 'processing'))).toEqual([]);
  });

  it('two processes on one folder, 20 files dropped at once: each file processed once, 20 outputs, each invoice once', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 20 });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    const [a, b] = await Promise.all([startInboxProcess(drop, env, 'inbox#1'), startInboxProcess(drop, env, 'inbox#2')]);
    const staged = await Promise.all(Array.from({ length: 20 }, (_, i) => writeInvoiceFile(ws.dir, `f${String(i).padStart(2, '0')}.csv`, 5, i * 5 + 1)));
    await Promise.all(staged.map((f) => rename(f, path.join(drop, 'inbox', path.basename(f)))));

    await waitFor(async () => (await files(path.join(drop, 'out'))).length >= 20 && (await files(path.join(drop, 'processing'))).length === 0, '20 outputs', 90_000, 200);
    await sleep(1000); // a second output of a file would come now
    const outs = await files(path.join(drop, 'out'));
    expect(outs).toEqual(staged.map((f) => path.basename(f).replace('.csv', '.out.csv')).sort());
    expect(await files(path.join(drop, 'done'))).toEqual(staged.map((f) => path.basename(f)).sort());
    expect(await files(path.join(drop, 'failed'))).toEqual([]);
    const all = [];
    for (const out of outs) {
      const { rows } = await readOutputCsv(path.join(drop, 'out', out));
      expect(rows.map((r) => r.status), out).toEqual(Array(5).fill('created'));
      all.push(...rows);
    }
    checkAgainstLedger(all, sim);
    const links = linksByInvoice(sim);
    expect(links.size).toBe(100);
    expect([...links.values()].every((l) => l.length === 1)).toBe(true);
    const list = await batches(env);
    expect(list).toHaveLength(20);
    expect(new Set(list.map((x) => x.file)).size).toBe(20);
    const took = (p: typeof a) => p.stderr().split('\n').filter((l) => l.includes('took a file from the drop folder')).length;
    expect(took(a) + took(b)).toBe(20);
    console.info(`[drop folder] 20 files: process 1 took ${took(a)}, process 2 took ${took(b)}`);
  }, 120_000);

  it('kill -9 mid-batch, then a restart: the output appears, nothing is submitted or created twice', async () => {
    const rows = 150;
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 50 });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300', PAYLINKS_RATE_LIMIT: '30' } });
    const drop = path.join(ws.dir, 'drop');
    const first = await startInboxProcess(drop, env, 'inbox#1');
    await writeInvoiceFile(path.join(drop, 'inbox'), 'april.csv', rows);
    await waitFor(() => sim.ledger().length >= 30, '30 links', 60_000, 20);
    expect((await kill9(first)).signal).toBe('SIGKILL');
    expect(sim.ledger().length).toBeLessThan(rows);
    expect(await files(path.join(drop, 'out'))).toEqual([]);
    expect(await files(path.join(drop, 'processing'))).toHaveLength(1);

    await startInboxProcess(drop, env, 'inbox#2');
    await waitForFile(path.join(drop, 'out', 'april.out.csv'), 120_000);
    await sleep(1000);
    const { rows: out } = await readOutputCsv(path.join(drop, 'out', 'april.out.csv'));
    expect(out).toHaveLength(rows);
    expect(out.every((r) => r.status === 'created')).toBe(true);
    checkAgainstLedger(out, sim);
    expect(new Set(sim.ledger().map((e) => e.invoiceNumber)).size).toBe(rows);
    expect(await files(path.join(drop, 'out'))).toEqual(['april.out.csv']);
    expect(await files(path.join(drop, 'done'))).toEqual(['april.csv']);
    expect(await files(path.join(drop, 'processing'))).toEqual([]);
    expect((await batches(env)).map((b) => [b.file, b.state])).toEqual([['april.csv', 'completed']]);
  }, 180_000);

  it('a bad file goes to failed/ with an errors text naming the line; nothing is sent', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    await startInboxProcess(drop, env);
    await writeFile(path.join(drop, 'inbox', 'broken.csv'), 'invoice_number,amount,description\nINV-1,10.00,ok\nINV-2,12.00,fine\nINV-3,13.00,"never closed\nINV-4,14.00,x\n');
    await writeFile(path.join(drop, 'inbox', '~$broken.xlsx'), 'lock'); // an Office lock file: ignored
    await writeFile(path.join(drop, 'inbox', 'upload.csv.part'), 'half'); // an upload in progress: ignored

    await waitForFile(path.join(drop, 'failed', 'broken.csv.errors.txt'));
    const text = await readFile(path.join(drop, 'failed', 'broken.csv.errors.txt'), 'utf8');
    expect(text).toMatch(/could not use broken\.csv: nothing was sent/);
    expect(text).toMatch(/Where: line 4/);
    expect(text).toMatch(/FILE_UNTERMINATED_QUOTE/);
    expect(text).toMatch(/How to fix it: .*closing quote/);
    expect(await files(path.join(drop, 'failed'))).toEqual(['broken.csv', 'broken.csv.errors.txt']);
    await sleep(1000);
    expect(await files(path.join(drop, 'inbox'))).toEqual(['upload.csv.part', '~$broken.xlsx']);
    expect(sim.ledger()).toEqual([]);
    expect(await batches(env)).toEqual([]);
  });

  it('a workbook saved into the folder goes through like a CSV: its output in out/ as CSV, each valid invoice once', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    await startInboxProcess(drop, env);
    const workbook = path.join(REPO_ROOT, 'fixtures', 'workbooks', 'invoices.xlsx');
    const report = await runCliToEnd(['validate', workbook, '--json'], { env });
    const { rows: total, valid } = JSON.parse(report.stdout) as { rows: number; valid: number };
    await writeFile(path.join(drop, 'inbox', 'march.xlsx'), await readFile(workbook));

    await waitForFile(path.join(drop, 'out', 'march.out.csv'));
    const { rows } = await readOutputCsv(path.join(drop, 'out', 'march.out.csv'));
    expect(rows).toHaveLength(total);
    expect(rows.filter((r) => r.status === 'created')).toHaveLength(valid);
    expect(sim.ledger()).toHaveLength(valid);
    expect(rows.filter((r) => r.status === 'created').map((r) => r.payment_id).sort()).toEqual(sim.ledger().map((e) => e.paymentId).sort());
    // The output is published first, then the file moves to done/: wait for that too (a loaded machine may lag).
    await waitForFile(path.join(drop, 'done', 'march.xlsx'));
    expect(await files(path.join(drop, 'done'))).toEqual(['march.xlsx']);
  });

  it('the same file dropped twice makes no second link and says exists; files of the same name never overwrite each other', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    await startInboxProcess(drop, env);
    const march = await writeInvoiceFile(ws.dir, 'invoices.csv', 10);
    const april = await writeInvoiceFile(path.join(ws.dir), 'april.csv', 10, 11);
    const dropAs = async (file: string, n: number) => {
      await writeFile(path.join(drop, 'inbox', 'invoices.csv'), await readFile(file));
      await waitForFile(path.join(drop, 'out', n === 1 ? 'invoices.out.csv' : `invoices (${n}).out.csv`));
    };
    await dropAs(march, 1);
    await dropAs(march, 2);
    await dropAs(april, 3);

    const first = (await readOutputCsv(path.join(drop, 'out', 'invoices.out.csv'))).rows;
    const again = (await readOutputCsv(path.join(drop, 'out', 'invoices (2).out.csv'))).rows;
    const third = (await readOutputCsv(path.join(drop, 'out', 'invoices (3).out.csv'))).rows;
    expect(first.map((r) => r.status)).toEqual(Array(10).fill('created'));
    expect(again.map((r) => r.status)).toEqual(Array(10).fill('exists'));
    expect(again.map((r) => r.payment_link)).toEqual(first.map((r) => r.payment_link));
    expect(third.map((r) => r.invoice_number)).toEqual(Array.from({ length: 10 }, (_, i) => invoiceNumber(i + 11)));
    expect(third.map((r) => r.status)).toEqual(Array(10).fill('created'));
    expect(sim.ledger()).toHaveLength(20);
    expect(await files(path.join(drop, 'done'))).toEqual(['invoices (2).csv', 'invoices (3).csv', 'invoices.csv']);
    expect(await readFile(path.join(drop, 'done', 'invoices (3).csv'))).toEqual(await readFile(april));
    // `paylinks status` lists them as inbox batches, by the name they were dropped under.
    const status = await runCliToEnd(['status'], { env });
    const lines = status.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^BATCH +STATE +DONE +PROBLEMS +CREATED \(UTC\) +SOURCE +FILE$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(-2))).toEqual(Array(3).fill(['inbox', 'invoices.csv']));
  });

  it('symbolic links and a FIFO in inbox/ are never read: reported in failed/, no link created, the secret appears nowhere, the service goes on', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    const service = await startInboxProcess(drop, env);
    // Files the service can read, outside the drop folder: a secret, and a CSV-shaped one carrying a secret too.
    const secret = 'sk_live_SYMLINK-must-never-leak-41';
    const dotEnv = path.join(ws.dir, '.env');
    await writeFile(dotEnv, `PAYWINT_API_SECRET=${secret}\nPAYWINT_API_KEY=${API_KEY}\n`);
    const csvShaped = path.join(ws.dir, 'private.csv');
    await writeFile(csvShaped, `invoice_number,amount,${secret}\nINV-9001,10.00,a\nINV-9002,11.00,b\n`);
    await symlink(dotEnv, path.join(drop, 'inbox', 'env.csv'));
    await symlink(csvShaped, path.join(drop, 'inbox', 'invoices.csv'));
    execFileSync('mkfifo', [path.join(drop, 'inbox', 'pipe.csv')]);

    await waitFor(async () => (await files(path.join(drop, 'failed'))).length >= 4, 'reports in failed/', 60_000, 200);
    // The service is not stuck on the FIFO: a real file dropped now goes through.
    await writeFile(path.join(drop, 'inbox', 'real.csv'), await readFile(await writeInvoiceFile(ws.dir, 'real.csv', 3)));
    await waitForFile(path.join(drop, 'out', 'real.out.csv'));

    expect(await files(path.join(drop, 'failed'))).toEqual(['env.csv.errors.txt', 'invoices.csv.errors.txt', 'pipe.csv', 'pipe.csv.errors.txt']);
    expect((await lstat(path.join(drop, 'failed', 'pipe.csv'))).isFIFO()).toBe(true);
    for (const name of ['env.csv', 'invoices.csv']) {
      const report = path.join(drop, 'failed', `${name}.errors.txt`);
      expect(await readFile(report, 'utf8')).toMatch(/is a symbolic link, not a file: paylinks reads only regular files/);
      expect((await lstat(report)).mode & 0o777, `${name}.errors.txt mode`).toBe(0o600);
    }
    expect(await readFile(path.join(drop, 'failed', 'pipe.csv.errors.txt'), 'utf8')).toMatch(/is a FIFO \(named pipe\), not a file/);
    expect(await files(path.join(drop, 'inbox'))).toEqual([]);
    // The targets are untouched.
    expect(await readFile(dotEnv, 'utf8')).toContain(secret);
    expect(await readFile(csvShaped, 'utf8')).toContain(secret);
    // Only the real file made links; the secret is in no file of the drop folder and in no output of the service.
    expect(sim.ledger().map((e) => e.invoiceNumber).sort()).toEqual([1, 2, 3].map(invoiceNumber));
    expect((await batches(env)).map((b) => b.file)).toEqual(['real.csv']);
    for (const sub of ['inbox', 'processing', 'done', 'failed', 'out']) {
      for (const name of await files(path.join(drop, sub))) {
        const entry = path.join(drop, sub, name);
        if (!(await lstat(entry)).isFile()) continue;
        expect(await readFile(entry, 'utf8'), `${sub}/${name}`).not.toContain(secret);
      }
    }
    expect(service.stderr()).not.toContain(secret);
  });
});
