/**
 * Uploading a large file to `paylinks serve`: a ~100 MB file (1,100,000 rows,
 * under the default 100 MB limit) sent as a cron job would (`curl -F
 * file=@...`), once with `dry_run=true` (checked, nothing stored) and once with
 * `hold=true` (checked, stored in Redis, nothing queued). For each: the time
 * until the answer, serve's peak RSS (a fresh serve per upload, so each peak
 * is its own) and the Redis memory the upload added.
 *
 *     npm run build && node dist/bench/serve-bench.js [rows]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, startRedisServer } from '../src/core/redis.js';
import { generateInvoiceFile } from './validate-bench.js';

const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), here.endsWith('.ts') ? '..' : '../..');
const TOKEN = 'bench-token-0123456789abcdefghijklmnopqrstuv';
const API_KEY = '7b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d';

export interface UploadMeasure {
  mode: 'dry_run' | 'hold';
  status: number;
  seconds: number;
  /** serve's peak resident set size (VmHWM), bytes. */
  peakRssBytes: number;
  /** Redis `used_memory` added by the upload, bytes. */
  redisBytes: number;
}

export interface ServeBenchResult {
  rows: number;
  fileBytes: number;
  measures: UploadMeasure[];
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

async function startServe(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'paylinks.js'), 'serve', '--port', '0', '--no-worker'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`paylinks serve exited with ${code} before listening`)));
  });
  return { child, url };
}

/** `curl -F file=@FILE URL`: the status code and the seconds until the answer. */
async function curlUpload(url: string, file: string): Promise<{ status: number; seconds: number }> {
  const started = process.hrtime.bigint();
  const curl = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${TOKEN}`, '-F', `file=@${file}`, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  curl.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  await once(curl, 'exit');
  return { status: Number(out), seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export async function runServeBench(options: { rows?: number } = {}): Promise<ServeBenchResult> {
  const rows = options.rows ?? 1_100_000;
  const file = path.join(repoRoot, 'bench', 'out', `invoices-${rows}.csv`);
  if (!existsSync(file)) await generateInvoiceFile(file, rows);
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-serve-bench-'));
  const redis = await startRedisServer({ dataDir: path.join(dir, 'redis'), appendOnly: true });
  const client = connect(redis.url, { name: 'serve-bench' });
  const measures: UploadMeasure[] = [];
  try {
    for (const mode of ['dry_run', 'hold'] as const) {
      const before = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      const serve = await startServe({ REDIS_URL: redis.url, PAYLINKS_PREFIX: 'bench', PAYWINT_API_KEY: API_KEY, PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_LOG_LEVEL: 'warn' });
      try {
        const { status, seconds } = await curlUpload(`${serve.url}/api/batches?${mode}=true`, file);
        const after = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
        measures.push({ mode, status, seconds, peakRssBytes: await peakRss(serve.child.pid!), redisBytes: after - before });
      } finally {
        serve.child.kill('SIGTERM');
        await once(serve.child, 'exit');
      }
    }
  } finally {
    client.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, fileBytes: statSync(file).size, measures };
}

export function formatServeBench(result: ServeBenchResult): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  const lines = [
    `serve-bench: upload of ${result.rows.toLocaleString('en-US')} rows, ${mb(result.fileBytes)} (curl -F file=@...), a fresh serve (--no-worker) per upload`,
    `${'upload'.padEnd(16)}${'status'.padStart(8)}${'time'.padStart(10)}${'rows/s'.padStart(12)}${'peak RSS'.padStart(12)}${'Redis added'.padStart(14)}`,
  ];
  for (const m of result.measures) {
    lines.push(
      `${`${m.mode}=true`.padEnd(16)}${String(m.status).padStart(8)}${`${m.seconds.toFixed(1)} s`.padStart(10)}${Math.round(result.rows / m.seconds).toLocaleString('en-US').padStart(12)}${mb(m.peakRssBytes).padStart(12)}${mb(m.redisBytes).padStart(14)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === here) {
  const rows = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const result = await runServeBench({ rows });
  console.log(formatServeBench(result));
  process.exitCode = result.measures.every((m) => m.status === 200 || m.status === 201) ? 0 : 1;
}
