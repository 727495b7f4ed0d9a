/**
 * The report as JSON (issue 17 seam 1): the summary, the exceptions and a
 * page of rows; `paylinks report --json` and `GET .../report.json`.
 */
import { passReport, type OpenReport, type ReportSource, type ReportTotals } from './report.js';
import { rowsFromBatch, type ReportRow } from './rows.js';
import type { ReportExceptionJson, ReportSummaryJson } from './summary.js';

export interface ReportJson {
  batchId: string;
  generatedAt: string;
  /** `batch`: every input row; `ledger`: the batch's rows expired, its links from the ledger (no line numbers). */
  source: ReportSource;
  summary: ReportSummaryJson;
  exceptions: ReportExceptionJson[];
  /** A page of rows in file order (absent with `rows: false`). */
  rows?: ReportRow[];
  totalRows: number;
  offset: number;
  limit: number;
}

export interface ReportPage {
  offset: number;
  limit: number;
  /** Whether to include the page of rows. Default true. */
  rows?: boolean;
}

/**
 * The page of rows with the totals of a pass made a moment ago (a cache of
 * the caller's): only the page's rows are read, when the rows are the
 * batch's (from the ledger, the order needs the whole pass again).
 */
export async function reportJsonWith(report: OpenReport, totals: ReportTotals, page: ReportPage): Promise<ReportJson> {
  if (report.source !== 'batch') return reportJson(report, page);
  const totalRows = report.batch.rows;
  if (page.rows === false) return toJson(report, totals, undefined, totalRows, page);
  const rows: ReportRow[] = [];
  for await (const chunk of rowsFromBatch(report.sources, report.batch, page.offset, page.offset + page.limit)) rows.push(...chunk.map((f) => f.row));
  return toJson(report, totals, rows, totalRows, page);
}

/** The rows and totals in one pass. */
export async function reportJson(report: OpenReport, page: ReportPage = { offset: 0, limit: 200 }): Promise<ReportJson> {
  const rows: ReportRow[] = [];
  const want = page.rows !== false;
  const end = page.offset + page.limit;
  let listed = 0;
  const totals = await passReport(report, (chunk, first) => {
    listed = first + chunk.length;
    if (!want || first + chunk.length <= page.offset || first >= end) return;
    for (let i = Math.max(0, page.offset - first); i < chunk.length && first + i < end; i += 1) rows.push(chunk[i]!.row);
  });
  return toJson(report, totals, want ? rows : undefined, listed, page);
}

export function toJson(report: OpenReport, totals: ReportTotals, rows: ReportRow[] | undefined, totalRows: number, page: ReportPage): ReportJson {
  return {
    batchId: report.batch.id,
    generatedAt: new Date(report.nowMs).toISOString(),
    source: report.source,
    summary: totals.summary,
    exceptions: totals.exceptions,
    ...(rows ? { rows } : {}),
    totalRows,
    offset: page.offset,
    limit: page.limit,
  };
}
