/**
 * Issue 20, item 14: SIGTERM stops `paylinks serve` within its bound whatever
 * it is reading. A workbook of a few hundred KB that unzips to 15 million
 * rows (a minute of reading) is uploaded; serve gets SIGTERM while it reads
 * it, lets it go on for PAYLINKS_UPLOAD_SHUTDOWN_MS, then stops the read,
 * answers 503 and exits 143.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manyRowsWorkbook } from '../../bench/hostile-workbooks.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY } from '../processes/support.js';
import { startServe, TOKEN } from './support.js';

let prefix: string;

beforeAll(() => {
  prefix = uniquePrefix('serve-sigterm');
});

afterAll(async () => {
  await killSpawned();
  await deletePrefix(testRedisUrl(), prefix);
});

const BOUND_MS = 2000;

describe('SIGTERM while serve reads a hostile workbook', () => {
  it('stops the read after PAYLINKS_UPLOAD_SHUTDOWN_MS: the upload is answered 503, serve exits 143 within the bound', async () => {
    const workbook = await manyRowsWorkbook(15_000_000);
    expect(workbook.length).toBeLessThan(1024 * 1024);
    const serve = await startServe(
      { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYWINT_API_KEY: API_KEY, PAYLINKS_LOG_LEVEL: 'info', PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_UPLOAD_SHUTDOWN_MS: String(BOUND_MS) },
      ['--no-worker'],
    );
    const form = new FormData();
    form.append('file', new Blob([workbook]), 'rows.xlsx');
    const answer = fetch(`${serve.url}/api/batches?dry_run=true`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form }).catch((error: unknown) => error);
    // Reading: the process works on it (a few seconds in, far from done).
    await new Promise((r) => setTimeout(r, 3000));
    expect(serve.proc.running()).toBe(true);

    const sentAt = performance.now();
    serve.proc.signal('SIGTERM');
    const exit = await Promise.race([serve.proc.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 60_000))]);
    const exitMs = performance.now() - sentAt;
    console.info(`[sigterm] serve exited ${Math.round(exitMs)} ms after SIGTERM (bound ${BOUND_MS} ms + shutdown)`);
    expect(exit, serve.proc.stderr().slice(-2000)).not.toBe('late');
    expect(exit).toMatchObject({ code: 143 });
    expect(exitMs).toBeLessThan(BOUND_MS + 8000);
    const response = await answer;
    expect(response, String(response)).toBeInstanceOf(Response);
    expect((response as Response).status).toBe(503);
    expect(await (response as Response).json()).toMatchObject({ code: 'SERVER_STOPPING' });
  }, 120_000);
});
