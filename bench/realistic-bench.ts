/**
 * A batch at realistic conditions: Paywint answering in 150 ms ± 50 ms (the
 * simulator, in its own process, with 100 ms latency plus 0 to 100 ms
 * jitter), a rate limit of 200 requests per second, 20,000 rows through
 * `runFile` (validate, submit, work, collect), as `paylinks run` does it.
 *
 * At this rate the limit, not paylinks, should set the pace: the goals are
 * requests from the first to the last within 1% of rows ÷ rate (100 s for
 * 20,000 rows), a wall time within 3% of it, and no sliding second at the
 * simulator holding more than 200 requests.
 *
 * Concurrency: the limit keeps rate × latency requests in flight, 200/s ×
 * 0.15 s = 30 on average and 40 when every answer takes the full 200 ms.
 * 64 rows in flight cover the slowest answers plus each row's own Redis
 * round trips (claim, result) with room to spare; a row waiting for its
 * rate-limit slot costs nothing but a timer, so more would change nothing.
 *
 * Usage: `node dist/bench/realistic-bench.js [--rows 20000] [--json]`
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/core/logger.js';
import { runFile } from '../src/index.js';
import { configFor, withBenchEnvironment, writeInvoiceFile } from './pipeline-bench.js';

export interface RealisticResult {
  rows: number;
  ratePerSecond: number;
  latencyMs: number;
  jitterMs: number;
  concurrency: number;
  /** validate, submit, work and collect, in seconds. */
  wallSeconds: number;
  /** rows ÷ rate, in seconds. */
  idealSeconds: number;
  /** From the start to the first request, the first request to the last, the last to the end (output written), in seconds. */
  phases: { beforeFirstSeconds: number; requestsSeconds: number; afterLastSeconds: number };
  /** Requests the simulator saw in its busiest sliding second (every request, retries included). */
  maxInAnySecond: number;
  /** How late the simulator's own stamps could come (its event-loop delay), ms. */
  stampDelayMaxMs: number;
  /** The first request to the last against rows ÷ rate, in percent (goal: within 1). */
  paceErrorPercent: number;
  /** Links the simulator made (one per row). */
  links: number;
  /** The machine's 1-minute load average at the end (2 cores: above 2, processes wait for a core, paylinks' timers with them). */
  loadAverage: number;
  /** CPU time of this process during the run (validate, submit, worker, collect; the simulator runs apart), in ms per row. */
  cpuMsPerRow: number;
  /** Peak RSS of this process during the run (the whole run is in it), sampled every 100 ms, in MB. */
  peakRssMb: number;
}

export async function runRealisticBench(options: { rows?: number } = {}): Promise<RealisticResult> {
  const rows = options.rows ?? 20_000;
  const ratePerSecond = 200;
  const concurrency = 64;
  const latencyMs = 100;
  const jitterMs = 100;
  return withBenchEnvironment(async ({ sim, redis, dir }) => {
    await sim.reset();
    await sim.faults({ latencyMs, jitterMs });
    const file = path.join(dir, 'realistic.csv');
    await writeInvoiceFile(file, rows, 'W');
    const config = configFor(sim, redis, 'bench-realistic', { PAYLINKS_RATE_LIMIT: String(ratePerSecond), PAYLINKS_CONCURRENCY: String(concurrency) });
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
    const cpuBefore = process.cpuUsage();
    const startedAtMs = Date.now();
    const started = performance.now();
    const result = await runFile({ file, output: path.join(dir, 'realistic.out.csv'), config, logger: silentLogger() }).finally(() => clearInterval(sampler));
    const wallSeconds = (performance.now() - started) / 1000;
    const endedAtMs = Date.now();
    const cpu = process.cpuUsage(cpuBefore);
    if (result.batch.counts.created !== rows) throw new Error(`realistic run created ${result.batch.counts.created} of ${rows}`);
    const stats = await sim.stats();
    const times = stats.arrivalsMs;
    return {
      rows,
      ratePerSecond,
      latencyMs: latencyMs + jitterMs / 2,
      jitterMs: jitterMs / 2,
      concurrency,
      wallSeconds,
      idealSeconds: rows / ratePerSecond,
      phases: { beforeFirstSeconds: (times[0]! - startedAtMs) / 1000, requestsSeconds: (times.at(-1)! - times[0]!) / 1000, afterLastSeconds: (endedAtMs - times.at(-1)!) / 1000 },
      maxInAnySecond: stats.busiestSecond.requests,
      stampDelayMaxMs: stats.stampDelayMaxMs,
      paceErrorPercent: ((times.at(-1)! - times[0]!) / 1000 / (rows / ratePerSecond) - 1) * 100,
      links: stats.created,
      loadAverage: loadavg()[0]!,
      cpuMsPerRow: (cpu.user + cpu.system) / 1000 / rows,
      peakRssMb: peakRss / 1024 / 1024,
    };
  });
}

export function formatRealisticBench(r: RealisticResult): string {
  const over = (r.wallSeconds / r.idealSeconds - 1) * 100;
  return (
    `realistic (${r.rows} rows, ${r.latencyMs} ± ${r.jitterMs} ms latency, rate limit ${r.ratePerSecond}/s, concurrency ${r.concurrency}): ` +
    `wall ${r.wallSeconds.toFixed(1)} s vs rows ÷ rate ${r.idealSeconds.toFixed(1)} s: ${over >= 0 ? '+' : ''}${over.toFixed(1)}% (goal ≤ +3%); ` +
    `first request after ${r.phases.beforeFirstSeconds.toFixed(1)} s, requests over ${r.phases.requestsSeconds.toFixed(1)} s, output ${r.phases.afterLastSeconds.toFixed(1)} s after the last; ` +
    `pace (first request to last vs rows ÷ rate) ${r.paceErrorPercent >= 0 ? '+' : ''}${r.paceErrorPercent.toFixed(2)}% (goal within 1%); ` +
    `busiest sliding second at the simulator ${r.maxInAnySecond} requests (goal ≤ ${r.ratePerSecond}; its stamps late by up to ${r.stampDelayMaxMs.toFixed(0)} ms), ${r.links} links for ${r.rows} rows, peak RSS ${r.peakRssMb.toFixed(0)} MB, ` +
    `CPU ${r.cpuMsPerRow.toFixed(2)} ms per row; load average ${r.loadAverage.toFixed(1)} on ${cpus().length} cores`
  );
}

/**
 * {@link runRealisticBench} in a process of its own, so that its peak RSS is the run's alone (`npm run bench` runs
 * it after benchmarks that leave the bench process large: in that process it read 531 MB, alone 209 MB).
 */
export async function runRealisticBenchInChild(options: { rows?: number } = {}): Promise<RealisticResult> {
  const args = [fileURLToPath(import.meta.url), '--json', ...(options.rows === undefined ? [] : ['--rows', String(options.rows)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the realistic bench exited with ${code}`);
  return JSON.parse(stdout) as RealisticResult;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const rowsAt = args.indexOf('--rows');
  const result = await runRealisticBench({ rows: rowsAt >= 0 ? Number(args[rowsAt + 1]) : undefined });
  console.log(args.includes('--json') ? JSON.stringify(result) : formatRealisticBench(result));
}
