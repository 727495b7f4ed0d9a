/**
 * The ids of `create-link` jobs: a job's id names its batch and its rows, so
 * the rows a job holds can be read from its id (a claim's owner, BullMQ's
 * active list) without reading the job.
 */

/**
 * The BullMQ job id of the job for rows `[from, to)` of a batch; `tag` tells
 * apart later jobs for the same rows (a row's own retry, a `paylinks retry`).
 */
export function rowsJobId(batchId: string, from: number, to: number, tag?: string): string {
  return tag === undefined ? `${batchId}-${from}-${to}` : `${batchId}-${from}-${to}-${tag}`;
}

/** The rows `[from, to)` of a job of the batch, from its id (undefined for a job of another batch). */
export function rowsOfJobId(batchId: string, jobId: string): { from: number; to: number } | undefined {
  if (!jobId.startsWith(`${batchId}-`)) return undefined;
  const m = /^(\d+)-(\d+)(?:-|$)/.exec(jobId.slice(batchId.length + 1));
  return m ? { from: Number(m[1]), to: Number(m[2]) } : undefined;
}
