/**
 * The reconciliation report (issue 17, item 4): a batch's rows with their
 * links' payment statuses, its summary and its exceptions, as CSV, an Excel
 * workbook or JSON. See docs/payments.md.
 */
export { openReport, passReport, type OpenReport, type ReportDeps, type ReportSource, type ReportTotals } from './report.js';
export { REPORT_COLUMNS, formatOfFile, summaryLines, writeReportCsv, writeReportFile, writeReportWorkbook, type ReportFormat } from './files.js';
export { reportJson, reportJsonWith, toJson, type ReportJson, type ReportPage } from './json.js';
export type { ReportRow, RowFacts } from './rows.js';
export type { ReportExceptionJson, ReportSummaryJson, CountAndAmountJson } from './summary.js';
