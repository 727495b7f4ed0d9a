/**
 * Test helpers around the Paywint simulator and tiny raw HTTP servers (for
 * answers the simulator never gives: protocol errors, date Retry-After, ...).
 * Real HTTP on loopback throughout; nothing here mocks fetch.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PaywintClient, type PaywintClientOptions } from '../../src/paywint/client.js';
import { SIMULATOR_DEMO_API_SECRET, type SimulatorHandle } from '../../src/paywint/simulator/index.js';

/** A client for the simulator with its demo credentials; override anything. */
export function simulatorClient(sim: { url: string; apiKey: string }, overrides: Partial<PaywintClientOptions> = {}): PaywintClient {
  return new PaywintClient({ baseUrl: sim.url, apiKey: sim.apiKey, apiSecret: SIMULATOR_DEMO_API_SECRET, timeoutMs: 5_000, ...overrides });
}

export interface RawRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface RawServer {
  url: string;
  /** Requests received so far, with their bodies. */
  requests: RawRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A plain node:http server answering with `answer` once the request body is read. */
export async function startRawServer(answer: (req: RawRequest, res: ServerResponse) => void): Promise<RawServer> {
  const requests: RawRequest[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw: RawRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(raw);
      answer(raw, res);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Writes a JSON (or raw text) answer. */
export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A URL on which nothing listens (a port just released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A raw request to the simulator's Paywint API, with its demo credentials unless told otherwise. */
export async function callSimulator(
  sim: Pick<SimulatorHandle, 'url' | 'apiKey'>,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const response = await fetch(`${sim.url}${path}`, {
    method: init.method ?? 'POST',
    body: init.body,
    headers: { 'X-Api-Key': sim.apiKey, 'X-Api-Secret': SIMULATOR_DEMO_API_SECRET, 'Content-Type': 'application/json', ...init.headers },
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, json };
}
