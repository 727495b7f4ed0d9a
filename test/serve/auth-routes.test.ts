/**
 * Every route of a running `paylinks serve` needs a token: each path and
 * method of its own OpenAPI document (so routes added later are walked too),
 * asked with no token and with a wrong one, answers 401, and nothing changed
 * afterwards: the batch list, the held batch the `{id}` routes point at, and
 * the simulator's ledger are as before.
 *
 * The failed sign-in limit blocks an address after 10 wrong tokens: each
 * wrong-token request comes from an address of its own on the loopback
 * network (127.0.0.N), so every answer is the route's own, never the block.
 */
import { request as httpRequest } from 'node:http';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, tempDir } from '../processes/support.js';
import { Client, invoicesCsv, startServe, TOKEN, type RunningServe } from './support.js';

/** The one route without a token by design: Paywint's webhooks carry their secret in the path (see docs). */
const WEBHOOK_PATH = '/webhooks/paywint/{secret}';
/** Needs no token: a load balancer's health check. */
const HEALTH_PATH = '/healthz';
/** Routes there are today; the walk must include at least these (a document that lost them would walk nothing). */
const KNOWN_TODAY = ['GET /api/batches', 'POST /api/batches', 'GET /api/batches/{id}', 'DELETE /api/batches/{id}', 'POST /api/batches/{id}/release', 'POST /api/batches/{id}/cancel', 'POST /api/batches/{id}/retry', 'GET /api/batches/{id}/output.csv', 'GET /metrics', 'GET /api/openapi.json', 'GET /api/server', 'GET /api/invoices/{invoiceNumber}', 'GET /api/payments/events'];
const WRONG_TOKEN = 'wrong-token-0123456789-abcdefghij-KLMNOPQR';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let serve: RunningServe;
let api: Client;

beforeAll(async () => {
  dir = await tempDir('serve-auth');
  prefix = uniquePrefix('auth');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  serve = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN } }));
  api = new Client(serve.url);
});

afterAll(async () => {
  await killSpawned();
  await sim?.close();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: string;
}

/** One request over a fresh connection from `localAddress` (no keep-alive, so the address is the one asked for). */
function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, localAddress: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, connection: 'close' }, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      // An event stream would stay open if the route answered: read what came within a second, then cut it.
      const cut = setTimeout(() => res.destroy(), 1_000);
      res.on('data', (chunk: string) => (text += chunk));
      res.on('close', () => {
        clearTimeout(cut);
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The batch list as a user sees it: ids and states. */
async function batchList(): Promise<{ id: string; state: string }[]> {
  const answer = await api.request('/api/batches?limit=100');
  expect(answer.status).toBe(200);
  return (answer.json as { batch_id?: string; id?: string; state: string }[]).map((b) => ({ id: b.batch_id ?? b.id ?? '', state: b.state }));
}

describe('paylinks serve: a token on every route', () => {
  it("answers 401 on every path and method of its OpenAPI document without a token or with a wrong one, and changes nothing", async () => {
    // A held batch for the {id} routes: released, cancelled, retried or deleted without a token, it would show.
    const held = await api.upload('held.csv', invoicesCsv(3, 1), '?hold=true');
    expect(held.status, held.text).toBe(201);
    const batchId = (held.json as { batch_id: string }).batch_id;
    const before = await batchList();
    expect(before.map((b) => b.id)).toContain(batchId);
    const ledgerBefore = sim.ledger();
    const requestsBefore = sim.stats().requests;

    const doc = (await api.request('/api/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods)
        .filter((m) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m))
        .map((m) => ({ method: m.toUpperCase(), path: p })),
    );
    const walked = operations.filter((o) => o.path !== HEALTH_PATH && o.path !== WEBHOOK_PATH);
    expect(walked.map((o) => `${o.method} ${o.path}`)).toEqual(expect.arrayContaining(KNOWN_TODAY));

    const wrongAnswers: string[] = [];
    let n = 0;
    for (const { method, path } of walked) {
      // Path parameters point at the held batch (or at nothing, for parameters other than the batch id).
      const url = `${serve.url}${path.replace('{id}', batchId).replace(/\{[^}]+\}/g, 'unknown')}`;
      // A body the route would act on: a valid file, so POST /api/batches would make a batch if it let us in.
      const body = ['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method) ? undefined : invoicesCsv(2, 500);
      const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'text/csv' };
      for (const [label, auth] of [
        ['no token', {}],
        ['a wrong token', { authorization: `Bearer ${WRONG_TOKEN}` }],
      ] as const) {
        n += 1;
        const from = `127.0.${Math.floor(n / 250)}.${(n % 250) + 2}`;
        const reply = await send(url, method, { ...headers, ...auth }, body, from);
        const code = (JSON.parse(reply.body || '{}') as { code?: string }).code;
        if (reply.status !== 401 || code !== 'UNAUTHORIZED') wrongAnswers.push(`${method} ${path} with ${label}: ${reply.status} ${reply.body.slice(0, 80)}`);
      }
    }
    expect(wrongAnswers, 'routes that did not answer 401 UNAUTHORIZED').toEqual([]);

    // Nothing changed: the same batches in the same states, the held batch still held, nothing sent to Paywint.
    expect(await batchList()).toEqual(before);
    const still = await api.request(`/api/batches/${batchId}`);
    expect(still.json).toMatchObject({ state: 'held' });
    expect(sim.ledger()).toEqual(ledgerBefore);
    expect(sim.stats().requests).toBe(requestsBefore);

    // The webhook route (once it exists) answers a wrong secret with 404, as if there were no such route.
    if (doc.paths[WEBHOOK_PATH]) {
      const reply = await send(`${serve.url}/webhooks/paywint/not-the-secret`, 'POST', { 'content-type': 'application/json' }, '{}', '127.0.0.1');
      expect(reply.status).toBe(404);
    }
  }, 120_000);
});
