/**
 * `paylinks serve --simulate` on the page: a person can tell at a glance that
 * the links are not real (a banner on every step, the batches and the
 * finished step marked "simulated"), in a real browser.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { paylinksEnv } from '../processes/support.js';
import { Client, invoicesCsv, launchChromium, startServe, TOKEN, type RunningServe } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
let prefix: string;
let serve: RunningServe;

beforeAll(async () => {
  prefix = uniquePrefix('pagesim');
  await mkdir(SHOTS, { recursive: true });
  serve = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, extra: { PAYLINKS_API_TOKENS: TOKEN } }), ['--simulate']);
}, 60_000);

afterAll(async () => {
  await killSpawned();
  await deletePrefix(testRedisUrl(), prefix);
});

describe('the web page of serve --simulate', () => {
  it('says so on every step, and marks its batches and links as simulated', async () => {
    const api = new Client(serve.url);
    expect((await api.request('/api/server')).json).toEqual({ simulated: true });
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      await page.goto(`${serve.url}/#token=${TOKEN}`);
      await expect.poll(() => page.getByText('Practice mode.').isVisible(), { timeout: 15_000 }).toBe(true);
      await page.locator('#file').setInputFiles({ name: 'june.csv', mimeType: 'text/csv', buffer: Buffer.from(invoicesCsv(4, 1)) });
      await page.getByRole('button', { name: /^Create 4 payment links/ }).click({ timeout: 20_000 });
      await expect.poll(() => page.getByRole('heading', { name: /^4 Done: june\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
      expect(await page.getByText('Practice mode.').isVisible()).toBe(true);
      expect(await page.locator('#finished-simulated').textContent()).toMatch(/^Simulated: these links come from the Paywint simulator/);
      expect(await page.locator('#finished-counts').textContent()).toContain('New links (simulated)4');
      await expect.poll(() => page.locator('#recent-body tr').first().locator('td.file').textContent()).toMatch(/^june\.csv · uploaded, .+ Simulated$/);
      await page.screenshot({ path: path.join(SHOTS, '20-simulated-finished.png'), fullPage: true });
      const batches = (await api.request('/api/batches')).json as { simulated: boolean }[];
      expect(batches.map((b) => b.simulated)).toEqual([true]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
