/**
 * The web page in a real browser (Debian's Chromium driven by playwright-core),
 * against a spawned `paylinks serve` with the simulator behind it, as a finance
 * person uses it: sign in, drop a file with invalid rows, read the errors by
 * line, confirm, watch it run, download the output and check it against the
 * simulator's ledger, see the recent batches. A screenshot of every step goes
 * to test-results/screenshots/ (git-ignored).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, tempDir } from '../processes/support.js';
import { launchChromium, startServe, TOKEN, type RunningServe } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const BAD_ROWS = path.join(REPO_ROOT, 'fixtures', 'bad-rows.csv');

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let serve: RunningServe;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  dir = await tempDir('serve-page');
  prefix = uniquePrefix('page');
  await mkdir(SHOTS, { recursive: true });
  // Slow enough to watch the progress: 2 rows at a time, 300 ms each.
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 300 });
  serve = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_CONCURRENCY: '2' } }));
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await killSpawned();
  await sim?.close();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

function shot(name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

describe('the web page, in Chromium', () => {
  it('sign in, upload a file with invalid rows, read them by line, confirm, watch, download the output, see the recent batches', async () => {
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));

    // 1. Sign in.
    await page.goto(serve.url);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await page.getByLabel('API token').fill('wrong-token-wrong-token-wrong-token-00');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not accepted');
    await shot('01-sign-in-refused');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // 2. Pick the file: uploaded held, the preview with the errors by line.
    await expect.poll(() => page.getByText('Drop the file here, or').isVisible()).toBe(true);
    expect(await page.getByLabel('Choose a file…').getAttribute('type')).toBe('file'); // the label is the visible button
    // Keyboard: the file input takes the focus, and its label shows the focus ring.
    await page.locator('#file').focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    // (Page functions as strings: the tests' TypeScript has no DOM types.)
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('file');
    expect(await page.evaluate(`getComputedStyle(document.querySelector('label[for="file"]')).outlineStyle`)).toBe('solid');
    expect(await page.getByRole('alert').isVisible()).toBe(false);
    await shot('02-upload');
    await page.locator('#file').setInputFiles(BAD_ROWS);
    const create = page.getByRole('button', { name: /^Create 7 payment links \(total 1,490\.06\)$/ });
    await expect.poll(() => create.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#preview-rows').textContent()).toBe('26');
    expect(await page.locator('#preview-valid').textContent()).toBe('7');
    expect(await page.locator('#preview-invalid').textContent()).toBe('19');
    const errorRows = await page.locator('#errors-body tr').allTextContents();
    expect(errorRows).toHaveLength(19);
    expect(errorRows[0]).toMatch(/^3\(none\)the invoice number is empty$/);
    expect(errorRows.some((r) => r === '19INV-001the same invoice number is already on line 2; this row will not be sent')).toBe(true);
    await shot('03-preview');
    expect(sim.ledger()).toHaveLength(0); // held: nothing sent yet

    // 3. Confirm. 4. Live progress.
    await create.click();
    await expect.poll(() => page.getByRole('heading', { name: /Creating payment links for bad-rows\.csv/ }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('#progress-text').textContent()).toMatch(/^[1-6] of 7 invoices sent$/);
    expect(await page.locator('#progress-detail').textContent()).toContain('19 rows of the file not sent (invalid or duplicate)');
    await shot('04-progress');

    // 5. Finished: counts, download.
    await expect.poll(() => page.getByRole('heading', { name: /Done, with problems: bad-rows\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('#finished-summary').textContent()).toBe('7 invoices have a payment link, out of 26 rows.');
    expect(await page.getByRole('button', { name: 'Retry failed rows' }).isVisible()).toBe(false);
    await shot('05-finished');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download output CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('bad-rows.out.csv');
    const saved = path.join(dir, 'downloaded.csv');
    await download.saveAs(saved);
    // One row of the fixture has extra cells, kept before the result columns: those are the last six.
    const [headers, ...records] = parse(await readFile(saved, 'utf8'), { bom: true, relax_column_count: true }) as string[][];
    const inputWidth = headers!.length - 6;
    const rows = records.map((cells) =>
      Object.fromEntries(headers!.map((h, i) => [h, (i < inputWidth ? cells[i] : cells[cells.length - (headers!.length - i)]) ?? ''])),
    );
    expect(rows).toHaveLength(26);
    expect(rows.filter((r) => r.status === 'created')).toHaveLength(7);
    // Each created row's link is the one link the simulator made for its invoice; nothing else was made.
    const created = rows.filter((r) => r.status === 'created');
    for (const row of created) expect(sim.ledger().filter((e) => e.invoiceNumber === row.invoice_number).map((e) => e.paymentId)).toEqual([row.payment_id]);
    expect(sim.ledger().map((e) => e.invoiceNumber).sort()).toEqual(created.map((r) => r.invoice_number).sort());
    expect((await readFile(saved)).subarray(0, 3).toString('hex')).toBe('efbbbf'); // the BOM, as collect writes it

    // 6. The recent batches.
    const recent = page.locator('#recent-body tr');
    await expect.poll(() => recent.count()).toBe(1);
    expect(await recent.first().textContent()).toMatch(/^bad-rows\.csvDone, with problems26719/);
    await page.getByRole('heading', { name: 'Recent batches' }).scrollIntoViewIfNeeded();
    await shot('06-recent');

    // A file error, in words on the page.
    await page.getByRole('button', { name: 'Upload another file' }).click();
    await page.locator('#file').setInputFiles(path.join(REPO_ROOT, 'fixtures', 'unterminated-quote.csv'));
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toMatch(/^This file cannot be used\. unterminated-quote\.csv, line 5: a quoted field starts here and is never closed/);
    await shot('07-file-error');

    // Nothing came from anywhere but paylinks itself.
    expect(requests.filter((u) => !u.startsWith(serve.url) && !u.startsWith('blob:'))).toEqual([]);
  });
});
