/**
 * Rows whose requests got no clear answer, on the page (issue 20, items 4
 * and 5): the finished step counts the failed rows that may have a link at
 * Paywint, and Retry asks before sending them again. `paylinks serve` as a
 * user starts it, the simulator making links and never answering, a real
 * browser.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv } from '../processes/support.js';
import { Client, launchChromium, startServe, TOKEN, type RunningServe } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
let prefix: string;
let sim: SimulatorHandle;
let serve: RunningServe;

beforeAll(async () => {
  prefix = uniquePrefix('pageunk');
  await mkdir(SHOTS, { recursive: true });
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, hangRate: 1 });
  serve = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_TIMEOUT_MS: '300' } }));
}, 60_000);

afterAll(async () => {
  await killSpawned();
  await sim.close();
  await deletePrefix(testRedisUrl(), prefix);
});

describe('the finished step of a batch whose requests got no clear answer', () => {
  it('counts the rows that may have a link, and sends them again only once the person says so', async () => {
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await page.goto(`${serve.url}/#token=${TOKEN}`);
      const csv = 'invoice_number,amount,description\nUNK-1,12.50,Never answered\nUNK-2,13.50,Never answered\n';
      await page.locator('#file').setInputFiles({ name: 'hangs.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.getByRole('button', { name: /^Create 2 payment links/ }).click({ timeout: 20_000 });
      await expect.poll(() => page.getByRole('heading', { name: /Done, with problems: hangs\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
      expect(sim.stats().requests).toBe(4);

      const counts = await page.locator('#finished-counts').textContent();
      expect(counts).toContain('Failed2');
      expect(counts).toContain('Failed, may have a link at Paywint2');
      await page.screenshot({ path: path.join(SHOTS, '30-unknown-finished.png'), fullPage: true });

      // Retry asks first; "as usual" leaves them alone.
      await page.getByRole('button', { name: 'Retry failed rows' }).click();
      expect(await page.locator('#retry-confirm').isVisible()).toBe(true);
      expect(await page.locator('#retry-question').textContent()).toContain('2 failed rows may have a link at Paywint.');
      await page.screenshot({ path: path.join(SHOTS, '31-unknown-retry-confirm.png'), fullPage: true });
      await page.getByRole('button', { name: /^Retry as usual/ }).click();
      await expect.poll(() => page.getByText('0 failed rows sent again. 2 rows that may have a link were left alone.').isVisible(), { timeout: 10_000 }).toBe(true);
      expect(sim.stats().requests).toBe(4);

      // The person looked at Paywint: send those too, once each.
      sim.setFaults({ hangRate: 0 });
      await page.getByRole('button', { name: 'Retry failed rows' }).click();
      await page.getByRole('button', { name: 'I checked: send those too' }).click();
      await expect.poll(() => page.getByRole('heading', { name: /Done: hangs\.csv/ }).isVisible(), { timeout: 30_000 }).toBe(true);
      expect(sim.stats().requests).toBe(6);
      expect(await page.locator('#finished-counts').textContent()).not.toContain('may have a link');
      const batches = (await new Client(serve.url).request('/api/batches')).json as { may_have_link: number; counts: { created: number } }[];
      expect(batches[0]).toMatchObject({ may_have_link: 0, counts: { created: 2 } });
    } finally {
      await browser.close();
    }
  }, 120_000);
});
