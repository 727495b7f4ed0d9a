/**
 * `paylinks serve` as a process: the token it makes on a loopback host and
 * its sign-in URL, the refusal to serve another host without tokens, the
 * failed sign-in limit, and SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killSpawned, runCliToEnd } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY } from '../processes/support.js';
import { Client, invoicesCsv, startServe, TOKEN } from './support.js';

let prefix: string;

beforeAll(() => {
  prefix = uniquePrefix('serve-proc');
});

afterAll(async () => {
  await killSpawned();
  await deletePrefix(testRedisUrl(), prefix);
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYWINT_API_KEY: API_KEY, PAYLINKS_LOG_LEVEL: 'info', ...extra };
}

describe('paylinks serve (spawned)', () => {
  it('on a non-loopback host without PAYLINKS_API_TOKENS it refuses to start: exit 2, naming the variable', async () => {
    const result = await runCliToEnd(['serve', '--host', '0.0.0.0', '--port', '0', '--no-worker'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PAYLINKS_API_TOKENS');
    expect(result.stderr).toContain('[CONFIG_MISSING]');
    const short = await runCliToEnd(['serve', '--port', '0', '--no-worker'], { env: env({ PAYLINKS_API_TOKENS: 'too-short' }) });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('PAYLINKS_API_TOKENS: expected comma-separated API tokens of at least 32 characters');
    expect(short.stderr).not.toContain('too-short');
  });

  it('on loopback without tokens: makes one, prints the sign-in URL once (token in the fragment), never logs it; failed sign-ins are limited; SIGTERM exits 143', async () => {
    const serve = await startServe(env(), ['--no-worker']);
    const signIn = /(http:\/\/127\.0\.0\.1:\d+\/#token=([A-Za-z0-9_-]{43}))/.exec(serve.stdout());
    expect(signIn, serve.stdout()).not.toBeNull();
    const token = signIn![2]!;
    expect(serve.stdout().split(token).length - 1).toBe(1);

    const good = new Client(serve.url, token);
    expect((await good.request('/api/batches')).status).toBe(200);
    const wrong = new Client(serve.url, 'x'.repeat(43));
    for (let i = 0; i < 10; i += 1) expect((await wrong.request('/api/batches')).status).toBe(401);
    const limited = await wrong.request('/api/batches');
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ code: 'TOO_MANY_SIGN_INS' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The address is refused for the rest of its window, right token or not.
    expect((await good.request('/api/batches')).status).toBe(429);
    expect((await new Client(serve.url, null).request('/healthz')).status).toBe(200);

    serve.proc.signal('SIGTERM');
    expect((await serve.proc.exited).code).toBe(143);
    expect(serve.proc.stderr()).not.toContain(token);
  });

  it('SIGTERM during an upload: the upload finishes (201), then serve exits 143', async () => {
    const serve = await startServe(env({ PAYLINKS_API_TOKENS: TOKEN }), ['--no-worker']);
    const csv = invoicesCsv(2000, 1);
    const half = csv.lastIndexOf('\n', csv.length / 2) + 1;
    let sendRest: () => void = () => undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(csv.slice(0, half)));
        sendRest = () => {
          controller.enqueue(new TextEncoder().encode(csv.slice(half)));
          controller.close();
        };
      },
    });
    const answer = fetch(`${serve.url}/api/batches?filename=slow.csv&hold=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    } as RequestInit);
    await new Promise((r) => setTimeout(r, 500)); // the first half is in
    serve.proc.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(serve.proc.running()).toBe(true); // waiting for the upload in flight
    sendRest();
    const response = await Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer:\n${serve.proc.stderr()}`)), 15_000))]);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ state: 'held', rows: 2000, valid: 2000 });
    expect((await serve.proc.exited).code).toBe(143);
  });
});
