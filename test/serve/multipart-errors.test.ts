/**
 * Issue 20, item 17: malformed multipart bodies are the client's error (400,
 * saying what is malformed), never a 500; more than one file says "send one
 * file per upload". A Fastify app with the server's own multipart plugin and
 * error handler, and the upload route's receiving code.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandlerPlugin } from '../../src/serve/http-errors.js';
import { receiveUpload } from '../../src/serve/upload.js';

let app: FastifyInstance;
beforeAll(async () => {
  app = Fastify();
  await app.register(errorHandlerPlugin);
  await app.register(multipart);
  app.post('/upload', async (request) => {
    const file = await receiveUpload(request, { maxBytes: 1_000_000 });
    await file.remove();
    return { name: file.name, bytes: file.bytes };
  });
  await app.ready();
});
afterAll(() => app.close());

const CSV = 'invoice_number,amount\nA-1,10.00\n';
const part = (boundary: string, name: string, filename: string, body: string) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n${body}\r\n`;

async function post(contentType: string, payload: string) {
  const reply = await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': contentType }, payload });
  return { status: reply.statusCode, body: reply.json<{ code?: string; message?: string; name?: string }>() };
}

describe('malformed multipart bodies', () => {
  it('a well-formed body is received (the test can tell success)', async () => {
    const answer = await post('multipart/form-data; boundary=XyZ', `${part('XyZ', 'file', 'march.csv', CSV)}--XyZ--\r\n`);
    expect(answer).toEqual({ status: 200, body: { name: 'march.csv', bytes: CSV.length } });
  });

  it('no closing boundary: 400 saying the body was cut short', async () => {
    const answer = await post('multipart/form-data; boundary=XyZ', part('XyZ', 'file', 'march.csv', CSV));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'BAD_REQUEST' });
    expect(answer.body.message).toMatch(/ends before its closing boundary/);
  });

  it('no boundary at all: 400 saying the Content-Type lacks one', async () => {
    const answer = await post('multipart/form-data', `${part('XyZ', 'file', 'march.csv', CSV)}--XyZ--\r\n`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'BAD_REQUEST' });
    expect(answer.body.message).toMatch(/boundary/);
  });

  it('two files: 400 "send one file per upload"', async () => {
    const answer = await post('multipart/form-data; boundary=XyZ', `${part('XyZ', 'file', 'a.csv', CSV)}${part('XyZ', 'file', 'b.csv', CSV)}--XyZ--\r\n`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^send one file per upload/);
  });

  it('too many fields: 400 "send one file per upload"', async () => {
    const fields = Array.from({ length: 25 }, (_, i) => `--XyZ\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('');
    const answer = await post('multipart/form-data; boundary=XyZ', `${fields}${part('XyZ', 'file', 'a.csv', CSV)}--XyZ--\r\n`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^send one file per upload/);
  });
});
