/**
 * The report as JSON (issue 17 seam 1): the summary, the exceptions and a
 * page of rows; `paylinks report --json` and `GET .../report.json`.
 */
import { passReport, type OpenReport, type ReportSource, type ReportTotals } from './report.js';
import type { ReportRow } from './rows.js';
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
