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
import { Client, invoicesCsv, launchChromium, startServe, TOKEN, type RunningServe } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const BAD_ROWS = path.join(REPO_ROOT, 'fixtures', 'bad-rows.csv');

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let serve: RunningServe;
let browser: Browser;
let page: Page;
let api: Client;

beforeAll(async () => {
  dir = await tempDir('serve-page');
  prefix = uniquePrefix('page');
  await mkdir(SHOTS, { recursive: true });
  // Slow enough to watch the progress: 2 rows at a time, 300 ms each.
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 300 });
  serve = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_CONCURRENCY: '2' } }));
  api = new Client(serve.url);
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

/** The 8-byte PNG signature and the start of its header chunk: what a screenshot begins with. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** WCAG's contrast ratio of a CSS `rgb(...)` colour against white. */
function contrastOnWhite(rgb: string): number {
  const [r, g, b] = (/rgba?\((\d+), (\d+), (\d+)/.exec(rgb) ?? []).slice(1).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return 1.05 / (luminance + 0.05);
}

/** Back to step 1 from wherever the page is: the page loaded again (the token stays in the tab). */
async function openUpload(): Promise<void> {
  await page.goto(`${serve.url}/`);
  if (await page.getByRole('heading', { name: 'Sign in' }).isVisible()) await page.goto(`${serve.url}/#token=${TOKEN}`);
  await expect.poll(() => page.getByText('Drop the file here, or').isVisible()).toBe(true);
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
    expect(await page.locator('#preview-new').textContent()).toBe('7');
    expect(await page.locator('#preview-invalid').textContent()).toBe('19');
    await expect.poll(() => page.locator('#preview-errors tbody tr').count()).toBe(19);
    const errorRows = await page.locator('#preview-errors tbody tr').allTextContents();
    expect(errorRows).toHaveLength(19);
    expect(errorRows[0]).toMatch(/^3\(none\)the invoice number is empty$/);
    expect(errorRows.some((r) => r === '19INV-001the same invoice number is already on line 2; this row will not be sent')).toBe(true);
    await shot('03-preview');
    expect(sim.ledger()).toHaveLength(0); // held: nothing sent yet

    // 3. Confirm. 4. Live progress.
    await create.click();
    await expect.poll(() => page.getByRole('heading', { name: /Creating payment links for bad-rows\.csv/ }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('#progress-text').textContent(), { timeout: 15_000 }).toMatch(/^[1-6] of 7 invoices sent$/);
    expect(await page.locator('#progress-detail').textContent()).toContain('19 rows of the file not sent (invalid or duplicate)');
    await shot('04-progress');

    // 5. Finished: counts, download.
    await expect.poll(() => page.getByRole('heading', { name: /Done, with problems: bad-rows\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('#finished-summary').textContent()).toBe('7 invoices have a payment link, for 1,490.06 in all, out of 26 rows.');
    // The rows without a link are on the page, all of them, said so.
    // (They are read after the step shows: wait for them.)
    await expect.poll(() => page.locator('#finished-errors tbody tr').count()).toBe(19);
    expect(await page.locator('#finished-errors .shown-count').textContent()).toBe('Showing all 19 rows.');
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
    // File, where from and when, state, rows, new links, links it had, amount linked, problems.
    expect(await recent.first().locator('td').allTextContents()).toEqual([expect.stringMatching(/^bad-rows\.csv · uploaded, .*2\d\d\d/), 'Done, with problems', '26', '7', '0', '1,490.06', '19', 'PaymentsDownloadOpen']);
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

  it('the preview reads the ledger: after a first run of 22 invoices, the same file with 3 more offers 3 new links, "22 already have one"', async () => {
    const first = await api.upload('april.csv', invoicesCsv(22, 1000));
    expect(first.status, first.text).toBe(201);
    await api.waitFinished((first.json as { batch_id: string }).batch_id);
    const before = sim.ledger().length;

    await openUpload();
    await page.locator('#file').setInputFiles({ name: 'april-again.csv', mimeType: 'text/csv', buffer: Buffer.from(invoicesCsv(25, 1000)) });
    // 3 new ones: SRV-001022..24 at 132.22, 133.23, 134.24.
    const create = page.getByRole('button', { name: 'Create 3 payment links (total 399.69; 22 already have one)' });
    await expect.poll(() => page.locator('#release').isVisible(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => create.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#preview-new').textContent()).toBe('3');
    expect(await page.locator('#preview-linked').textContent()).toBe('22');
    expect(await page.locator('#preview-total').textContent()).toBe('399.69');
    expect(await page.locator('#preview-ledger').textContent()).toMatch(/^22 invoices already have a payment link \([\d,.]+\) from an earlier file/);
    await shot('08-preview-ledger');
    await create.click();
    await expect.poll(() => page.getByRole('heading', { name: /^4 Done: april-again\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
    expect(sim.ledger().length - before).toBe(3);
    expect(await page.locator('#finished-counts').textContent()).toContain('Already had a link22');
    await shot('09-finished-with-existing');
  });

  it('a file without an amount column: the page offers its columns (no command-line flags), the person picks one, the check passes', async () => {
    await openUpload();
    await page.locator('#file').setInputFiles(path.join(REPO_ROOT, 'fixtures', 'missing-amount-column.csv'));
    await expect.poll(() => page.getByRole('heading', { name: 'How to read missing-amount-column.csv' }).isVisible(), { timeout: 20_000 }).toBe(true);
    const intro = (await page.locator('#read-as-intro').textContent()) ?? '';
    expect(intro).toMatch(/^No amount column\./);
    expect(intro).toContain('Choose the column below.');
    expect(await page.locator('main').innerText()).not.toMatch(/--\w/);
    const amount = page.getByLabel('Amount column');
    expect(await amount.locator('option').allTextContents()).toEqual(['Found by its name', 'invoice_number', 'customer', 'price', 'description']);
    await shot('10-read-as');
    await amount.selectOption('price');
    await page.getByRole('button', { name: 'Check again' }).click();
    const create = page.getByRole('button', { name: 'Create 1 payment link (total 10.00)' });
    await expect.poll(() => create.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#preview-read-as-text').textContent()).toBe('Read with invoice numbers from "invoice_number", amounts from "price", decimal point.');
    await page.getByRole('button', { name: 'Discard' }).click();
    await expect.poll(() => page.getByText('Drop the file here, or').isVisible()).toBe(true);
  });

  it('ambiguous amounts: "Read it differently" from the preview (and from a file with no valid row), decimal comma, checked again', async () => {
    await openUpload();
    await page.locator('#file').setInputFiles({ name: 'eu.csv', mimeType: 'text/csv', buffer: Buffer.from('invoice_number;amount\nEU-1;1.250\nEU-2;7.500\nEU-3;20\n') });
    await expect.poll(() => page.locator('#preview-invalid').textContent(), { timeout: 20_000 }).toBe('2');
    await expect.poll(() => page.locator('#preview-errors tbody').innerText()).toContain('choose the decimal mark with "Read it differently"');
    expect(await page.locator('main').innerText()).not.toMatch(/--\w/);
    await shot('11-preview-ambiguous');
    await page.getByRole('button', { name: 'Read it differently' }).click();
    await page.getByLabel('Decimal mark').selectOption('comma');
    await page.getByRole('button', { name: 'Check again' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Create 3 payment links (total 8,770.00)' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByRole('button', { name: 'Discard' }).click();
    // The first held upload was dropped before the second: nothing waits.
    const held = ((await api.request('/api/batches?limit=100')).json as { state: string }[]).filter((b) => b.state === 'held');
    expect(held).toEqual([]);

    // No valid row at all: the batch is finished at once; its rows say what to do, and the button is there.
    await page.locator('#file').setInputFiles({ name: 'eu-only.csv', mimeType: 'text/csv', buffer: Buffer.from('invoice_number;amount\nEU-1;1.250\nEU-2;7.500\n') });
    await page.getByRole('button', { name: 'Read the file differently' }).click({ timeout: 20_000 });
    await page.getByLabel('Decimal mark').selectOption('comma');
    await page.getByRole('button', { name: 'Check again' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Create 2 payment links (total 8,750.00)' }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByRole('button', { name: 'Discard' }).click();
  });

  it('a PNG picked by mistake: "not a spreadsheet" in words, as for a PDF', async () => {
    await openUpload();
    await page.locator('#file').setInputFiles({ name: 'scan.png', mimeType: 'image/png', buffer: PNG });
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toBe(
      'scan.png is a PNG image, not a file of invoices: save it as CSV or as an Excel workbook (.xlsx) and upload that',
    );
    await shot('12-png');
  });

  it('cancel while a batch runs: asks first, then stops; the links made stay, the rest are not sent', async () => {
    await openUpload();
    await page.locator('#file').setInputFiles({ name: 'may.csv', mimeType: 'text/csv', buffer: Buffer.from(invoicesCsv(120, 5000)) });
    await page.getByRole('button', { name: /^Create 120 payment links/ }).click({ timeout: 20_000 });
    await expect.poll(() => page.locator('#progress-text').textContent(), { timeout: 20_000 }).toMatch(/^[1-9]\d* of 120 invoices sent$/);
    await page.getByRole('button', { name: 'Cancel the remaining invoices…' }).click();
    expect(await page.getByText('Stop this batch?').isVisible()).toBe(true);
    await shot('13-cancel-confirm');
    await page.getByRole('button', { name: 'Keep going' }).click();
    expect(await page.getByText('Stop this batch?').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Cancel the remaining invoices…' }).click();
    await page.getByRole('button', { name: 'Stop the batch' }).click();
    await expect.poll(() => page.getByRole('heading', { name: /^4 Cancelled: may\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
    const made = sim.ledger().filter((e) => /^SRV-005[01]/.test(e.invoiceNumber ?? '')).length;
    expect(made).toBeGreaterThan(0);
    expect(made).toBeLessThan(120);
    // The cut-off list says so, and shows more on asking.
    await expect.poll(() => page.locator('#finished-errors .shown-count').textContent(), { timeout: 10_000 }).toMatch(/^Showing 50 of \d+ rows\.$/);
    await page.locator('#finished-errors').getByRole('button', { name: 'Show 50 more' }).click();
    await expect.poll(() => page.locator('#finished-errors tbody tr').count()).toBeGreaterThan(50);
    await shot('14-cancelled');
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as Excel (.xlsx)' }).click()]);
    expect(xlsx.suggestedFilename()).toBe('may.out.xlsx');
    const saved = path.join(dir, 'may.out.xlsx');
    await xlsx.saveAs(saved);
    expect((await readFile(saved)).subarray(0, 2).toString('latin1')).toBe('PK');
  });

  it('the focus ring stands out on white (at least 3:1)', async () => {
    await openUpload();
    await page.locator('#file').focus();
    const color = (await page.evaluate(`getComputedStyle(document.querySelector('label[for="file"]')).outlineColor`)) as string;
    expect(contrastOnWhite(color)).toBeGreaterThanOrEqual(3);
  });

  it('a sign-in link pasted into a tab already open signs in, and leaves the address bar', async () => {
    const other = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await other.goto(serve.url);
    await expect.poll(() => other.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await other.goto(`${serve.url}/#token=${TOKEN}`);
    await expect.poll(() => other.getByText('Drop the file here, or').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(other.url()).toBe(`${serve.url}/`);
    await other.close();
  });

  it('at 390 px wide (a phone): every batch row and its actions stay on screen', async () => {
    // On a desktop too, no row's actions are cut off by the table's edge.
    await openUpload();
    await expect.poll(() => page.locator('#recent-body tr').count()).toBeGreaterThan(2);
    const clipped = await page.evaluate(`(() => {
      const edge = document.querySelector('#recent-table').getBoundingClientRect().right;
      return [...document.querySelectorAll('#recent-body button')].filter((b) => b.getBoundingClientRect().right > edge).map((b) => b.getAttribute('aria-label'));
    })()`);
    expect(clipped).toEqual([]);
    await shot('15-desktop-recent');
    const narrow = await (await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true })).newPage();
    await narrow.goto(`${serve.url}/#token=${TOKEN}`);
    const rows = narrow.locator('#recent-body tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThan(2);
    const offScreen = (await narrow.evaluate(`[...document.querySelectorAll('main button, main .button, main td, main h2')]
      .filter((e) => e.offsetParent !== null)
      .map((e) => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect()])
      .filter(([, r]) => r.left < 0 || r.right > 390)
      .map(([t, r]) => t + ' ' + Math.round(r.left) + '..' + Math.round(r.right))`)) as string[];
    expect(offScreen).toEqual([]);
    expect((await narrow.evaluate('document.documentElement.scrollWidth')) as number).toBeLessThanOrEqual(390);
    // Nothing spills out of its own box onto its neighbour.
    expect(await narrow.evaluate(`[...document.querySelectorAll('#recent-body td')].filter((td) => td.scrollWidth > td.clientWidth + 1).map((td) => td.textContent)`)).toEqual([]);
    await narrow.screenshot({ path: path.join(SHOTS, '16-phone-recent.png'), fullPage: true });
    await narrow.getByRole('button', { name: 'Open may.csv' }).click();
    await expect.poll(() => narrow.getByRole('heading', { name: /Cancelled: may\.csv/ }).isVisible()).toBe(true);
    await narrow.screenshot({ path: path.join(SHOTS, '17-phone-finished.png'), fullPage: true });
    await narrow.close();
  });
});
