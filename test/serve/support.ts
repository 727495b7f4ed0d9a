/**
 * `paylinks serve` as a user starts it (the real executable), with the
 * simulator behind it, and a small HTTP client that keeps every answer so a
 * test can check that none of them carries the Paywint secret.
 */
import { chromium, type Browser } from 'playwright-core';
import { expect } from 'vitest';
import { spawnCli, type SpawnedProcess } from '../helpers/processes.js';

/** 40 characters: a valid PAYLINKS_API_TOKENS entry. */
export const TOKEN = 'test-token-0123456789-abcdefghij-KLMNOPQR';

export interface RunningServe {
  proc: SpawnedProcess;
  url: string;
  /** What the process printed on stdout (the sign-in URL, when it made a token). */
  stdout(): string;
}

/** Debian's Chromium, headless, as the README's page tests run it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** Spawns `paylinks serve --port 0 ...args` and waits until it listens. */
export async function startServe(env: Record<string, string>, args: string[] = []): Promise<RunningServe> {
  const proc = await spawnCli(['serve', '--port', '0', ...args], { env, name: 'serve' });
  const line = await proc.waitForLine(/paylinks serving on http:\/\/\S+/, 30_000);
  const url = /(http:\/\/[^\s]+)/.exec(line)![1]!;
  return { proc, url, stdout: () => proc.stdout() };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  bytes: Buffer;
  json: unknown;
}

/** Every answer received through {@link Client}, for the secret check. */
export const answers: Answer[] = [];

export class Client {
  constructor(
    readonly base: string,
    /** null: send no Authorization header. */
    private readonly token: string | null = TOKEN,
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Answer> {
    const headers = new Headers(init.headers);
    if (this.token !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${this.token}`);
    const response = await fetch(`${this.base}${path}`, { ...init, headers });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const answer = { status: response.status, headers: response.headers, text, bytes, json };
    answers.push(answer);
    return answer;
  }

  /** Uploads `content` as multipart field `file` (named `name`), with option fields. */
  upload(name: string, content: string | Buffer, query = '', fields: Record<string, string> = {}): Promise<Answer> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([content]), name);
    return this.request(`/api/batches${query}`, { method: 'POST', body: form });
  }

  /** Polls the batch until it has finished; returns its last status. */
  async waitFinished(id: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.request(`/api/batches/${id}`);
      expect(a.status).toBe(200);
      const b = a.json as { state: string; done: number; rows: number };
      if (['completed', 'completed_with_errors', 'cancelled', 'failed'].includes(b.state)) return a.json as Record<string, unknown>;
      if (Date.now() > deadline) throw new Error(`batch ${id} did not finish: ${a.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Writes `n` valid invoices (distinct numbers from `from`) as CSV text. */
export function invoicesCsv(n: number, from: number, extraLines: string[] = []): string {
  const lines = ['invoice_number,amount,description'];
  for (let i = from; i < from + n; i += 1) lines.push(`SRV-${String(i).padStart(6, '0')},${(i % 900) + 10}.${String(i % 100).padStart(2, '0')},Invoice ${i}`);
  return `${[...lines, ...extraLines].join('\n')}\n`;
}
