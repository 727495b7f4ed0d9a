/**
 * `npm run bench`: every benchmark, one after the other, each measuring its
 * figures side by side in one run. Prints the tables for the README.
 *
 * Usage: `npm run bench [-- --quick]` (`--quick`: 100,000-row validate file and upload, 5,000-row overhead run,
 * 2,000-row realistic run).
 */
import { formatInboxLatency, runInboxLatencyBench } from './inbox-latency.js';
import { formatPipelineBench, runPipelineBench } from './pipeline-bench.js';
import { formatRealisticBench, runRealisticBench } from './realistic-bench.js';
import { formatServeBench, runServeBench } from './serve-bench.js';
import { formatTable, runValidateBench } from './validate-bench.js';

const quick = process.argv.includes('--quick');
console.log(`paylinks benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n`);
console.log('validate:');
console.log(formatTable(await runValidateBench({ rows: quick ? 100_000 : 1_000_000 })));
console.log('\npipeline (Paywint simulator in its own process, private Redis with AOF on):');
console.log(formatPipelineBench(await runPipelineBench({ rows: quick ? 5_000 : 20_000 })));
console.log('\nrealistic conditions (Paywint simulator in its own process, private Redis with AOF on):');
console.log(formatRealisticBench(await runRealisticBench({ rows: quick ? 2_000 : 20_000 })));
console.log('\nserve (upload of a large file over HTTP, private Redis with AOF on):');
console.log(formatServeBench(await runServeBench({ rows: quick ? 100_000 : 1_100_000 })));
console.log('\ndrop folder pickup latency (private Redis, no workers):');
console.log(formatInboxLatency(await runInboxLatencyBench({ drops: quick ? 4 : 8, rows: 1000 }), 1000));
