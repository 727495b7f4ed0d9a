/**
 * Notifications when a batch finishes, received as a customer's systems
 * receive them: a webhook receiver on loopback that checks the signature,
 * and a real SMTP server (the `smtp-server` package) that keeps the mail.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/notify/signature.js';
import { kill9, spawnCli, startInboxProcess, startWorkerProcess, waitFor } from '../helpers/processes.js';
import { TOKEN } from '../serve/support.js';
import { testRedisUrl } from '../helpers/redis.js';
import { reply, startRawServer } from '../helpers/simulator.js';
import { API_KEY, API_SECRET, BatchProbe, paylinksEnv, submit, useWorkspace, writeInvoiceFile } from './support.js';

const ws = useWorkspace('notify', 'notify');
const NOTIFY_SECRET = 'whsec_TEST-notify-secret-9Lp2';

describe('notifications', () => {
  it('a webhook answering 500 twice, then 200: one event, three deliveries, each signed; nothing while the batch runs', async () => {
    const redisUrl = testRedisUrl();
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, latencyMs: 100 });
    let answered = 0;
    const receiver = await startRawServer((_req, res) => {
      answered += 1;
      reply(res, answered <= 2 ? 500 : 200, answered <= 2 ? { error: 'busy' } : { ok: true });
    });
    const probe = new BatchProbe(redisUrl, ws.prefix);
    try {
      const env = paylinksEnv({
        redisUrl,
        prefix: ws.prefix,
        sim,
        extra: {
          PAYLINKS_CONCURRENCY: '2',
          PAYLINKS_NOTIFY_URL: `${receiver.url}/hooks/paylinks`,
          PAYLINKS_NOTIFY_SECRET: NOTIFY_SECRET,
          PAYLINKS_PUBLIC_URL: 'https://paylinks.example.com/',
          PAYLINKS_API_TOKENS: TOKEN,
        },
      });
      // Two processes run workers, `paylinks worker` and `paylinks serve`: one finish still makes one event.
      const serve = await spawnCli(['serve', '--port', '0'], { env, name: 'serve' });
      await Promise.all([startWorkerProcess(env, 'worker'), serve.waitForLine(/paylinks serving on/)]);
      const batchId = await submit(await writeInvoiceFile(ws.dir, 'may.csv', 30), env);

      await waitFor(async () => (await probe.batch(batchId))?.state === 'running', 'the batch running', 30_000, 20);
      await sleep(500);
      const running = await probe.batch(batchId);
      expect(running?.done, 'the batch was still running when checked').toBeLessThan(30);
      expect(receiver.requests, 'no event for a running batch').toEqual([]);

      await waitFor(() => receiver.requests.length >= 3, 'three deliveries', 60_000);
      await sleep(3000); // a fourth delivery, or a second event, would come by now
      const deliveries = receiver.requests;
      expect(deliveries).toHaveLength(3);
      const ids = new Set(deliveries.map((d) => d.headers['paylinks-event-id']));
      expect(ids.size).toBe(1);
      const [eventId] = [...ids];
      expect(eventId).toBe(`${batchId}-f1`);
      for (const d of deliveries) {
        expect(d.method).toBe('POST');
        expect(d.url).toBe('/hooks/paylinks');
        expect(d.headers['content-type']).toBe('application/json');
        const signature = String(d.headers['paylinks-signature']);
        expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
        expect(verifySignature(NOTIFY_SECRET, d.body, signature)).toBe(true);
        expect(verifySignature('another-secret-of-16+', d.body, signature)).toBe(false);
        expect(verifySignature(NOTIFY_SECRET, d.body.replace('"completed"', '"failed"'), signature)).toBe(false);
        const json = JSON.stringify(d);
        expect(json).not.toContain(API_SECRET);
        expect(json).not.toContain(NOTIFY_SECRET);
        expect(json).not.toContain(TOKEN);
      }
      const body = JSON.parse(deliveries[0]!.body) as { id: string; event: string; batch: { id: string; state: string; file: string; counts: Record<string, number>; amount_created: string }; output_url: string };
      expect(body).toMatchObject({ id: eventId, event: 'batch.finished', output_url: `https://paylinks.example.com/api/batches/${batchId}/output.csv` });
      expect(body.batch).toMatchObject({ id: batchId, state: 'completed', file: 'may.csv' });
      expect(body.batch.counts.created).toBe(30);
      // Retried with backoff: about 1 s, then about 2 s.
      const times = deliveries.map((d) => Number(/t=(\d+)/.exec(String(d.headers['paylinks-signature']))![1]));
      expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(2);
    } finally {
      probe.close();
      await receiver.close();
    }
  }, 120_000);

  it('a webhook that keeps failing is given up once its retry window is spent, and said so', async () => {
    const redisUrl = testRedisUrl();
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const receiver = await startRawServer((_req, res) => reply(res, 503, { error: 'down' }));
    try {
      const env = paylinksEnv({
        redisUrl,
        prefix: ws.prefix,
        sim,
        extra: { PAYLINKS_NOTIFY_URL: receiver.url, PAYLINKS_NOTIFY_SECRET: NOTIFY_SECRET, PAYLINKS_NOTIFY_RETRY_WINDOW_MS: '2500' },
      });
      const worker = await startWorkerProcess(env);
      await submit(await writeInvoiceFile(ws.dir, 'july.csv', 3), env);
      // Tries at about 0 s and 1 s; the next (about 3 s) would fall after the 2.5 s window.
      await worker.waitForLine(/"msg":"notification given up: it kept failing for the whole retry window"/, 30_000);
      await sleep(3000);
      expect(receiver.requests).toHaveLength(2);
      expect(new Set(receiver.requests.map((r) => r.headers['paylinks-event-id'])).size).toBe(1);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('a retry outlives its process: kill -9 after a failed delivery, and the next process delivers the same event', async () => {
    const redisUrl = testRedisUrl();
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const receiver = await startRawServer((_req, res) => reply(res, receiver.requests.length === 1 ? 500 : 200, {}));
    try {
      const env = paylinksEnv({ redisUrl, prefix: ws.prefix, sim, extra: { PAYLINKS_NOTIFY_URL: receiver.url, PAYLINKS_NOTIFY_SECRET: NOTIFY_SECRET } });
      const first = await startWorkerProcess(env, 'worker#1');
      await submit(await writeInvoiceFile(ws.dir, 'august.csv', 3), env);
      await waitFor(() => receiver.requests.length >= 1, 'the first delivery', 30_000, 10);
      await sleep(300); // its failure recorded: the retry waits in Redis, not in the process
      await kill9(first);
      expect(receiver.requests).toHaveLength(1);
      await startWorkerProcess(env, 'worker#2');
      await waitFor(() => receiver.requests.length >= 2, 'the retried delivery', 30_000);
      await sleep(2000);
      expect(receiver.requests).toHaveLength(2);
      expect(receiver.requests[1]!.headers['paylinks-event-id']).toBe(receiver.requests[0]!.headers['paylinks-event-id']);
      expect(receiver.requests[1]!.body).toBe(receiver.requests[0]!.body);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('e-mails a summary with the output attached, byte for byte the output in out/', async () => {
    const messages: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          messages.push(Buffer.concat(chunks).toString('utf8'));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.server.address() as AddressInfo;
    try {
      const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
      const env = paylinksEnv({
        redisUrl: testRedisUrl(),
        prefix: ws.prefix,
        sim,
        extra: {
          PAYLINKS_INBOX_POLL_MS: '200',
          PAYLINKS_INBOX_SETTLE_MS: '300',
          PAYLINKS_SMTP_URL: `smtp://127.0.0.1:${port}`,
          PAYLINKS_NOTIFY_EMAIL: 'finance@example.com, controller@example.com',
          PAYLINKS_NOTIFY_EMAIL_FROM: 'paylinks@example.com',
          PAYLINKS_API_TOKENS: TOKEN,
        },
      });
      const drop = path.join(ws.dir, 'drop');
      await startInboxProcess(drop, env);
      const file = await writeInvoiceFile(ws.dir, 'june.csv', 12);
      // One invalid row, so the summary has a problem to name.
      await writeFile(path.join(drop, 'inbox', 'june.csv'), `${await readFile(file, 'utf8')}INV-BAD,abc,broken amount\n`);

      await waitFor(() => messages.length >= 1, 'an e-mail', 60_000);
      // The notification and the drop folder's output file come from one finish, in no fixed order.
      const outFile = path.join(drop, 'out', 'june.out.csv');
      await waitFor(() => access(outFile).then(() => true, () => false), 'the output in out/', 30_000);
      const output = await readFile(outFile);
      await sleep(1500);
      expect(messages).toHaveLength(1);
      const mail = messages[0]!;
      expect(mail).toMatch(/^To: finance@example\.com, controller@example\.com/m);
      expect(mail).toMatch(/^Subject: paylinks: june\.csv completed with errors/m);
      expect(mail).toMatch(/^Paylinks-Event-Id: \S+-f1/im);
      const text = decodePart(mail, /Content-Type: text\/plain/);
      expect(text).toMatch(/Rows: +13 \(created 12, exists 0, invalid 1, duplicate 0, conflict 0, failed 0\)/);
      expect(text).toMatch(/Amount linked: +[\d,.]+/);
      expect(text).toMatch(/Duration: +\d+ s/);
      expect(text).toMatch(/line 14, invoice INV-BAD: invalid: .*\[INVALID_AMOUNT\]/);
      const attachment = decodePart(mail, /filename="?june\.out\.csv/, 'binary');
      expect(Buffer.from(attachment, 'binary').equals(output)).toBe(true);
      expect(mail).not.toContain(API_SECRET);
      expect(mail).not.toContain(TOKEN);
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  }, 90_000);
});

/** The decoded body of the MIME part whose headers match `pattern`. */
function decodePart(mail: string, pattern: RegExp, encoding: 'utf8' | 'binary' = 'utf8'): string {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(mail)?.[1];
  if (!boundary) throw new Error('not a multipart message');
  const part = mail.split(`--${boundary}`).find((p) => pattern.test(p.split(/\r?\n\r?\n/)[0] ?? ''));
  if (!part) throw new Error(`no part matching ${pattern}`);
  const [head, ...rest] = part.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n').trim();
  if (/Content-Transfer-Encoding: base64/i.test(head ?? '')) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString(encoding);
  if (/Content-Transfer-Encoding: quoted-printable/i.test(head ?? '')) {
    return Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'binary').toString(encoding);
  }
  return body;
}
