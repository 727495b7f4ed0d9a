/**
 * How long a workbook with one long text cell takes to read (issue 20, item
 * 14): a 1 MB, 8 MB and 64 MB description cell of plain text, no markup, as
 * `validate` reads it. The reader stops at its cell limit at once; before,
 * the time grew with the square of the cell's length.
 *
 *   npm run build && node dist/bench/workbook-cells.js [MB ...]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openInvoiceFile } from '../src/intake/invoice-file.js';
import { oneLongCell } from './hostile-workbooks.js';

export interface CellBenchRow {
  megabytes: number;
  fileBytes: number;
  cpuMs: number;
  wallMs: number;
  outcome: string;
}

export async function runWorkbookCellsBench(sizesMb: readonly number[] = [1, 8, 64]): Promise<CellBenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'paylinks-cells-'));
  const rows: CellBenchRow[] = [];
  try {
    for (const megabytes of sizesMb) {
      const file = path.join(dir, `cell-${megabytes}mb.xlsx`);
      const bytes = oneLongCell(megabytes * 1024 * 1024);
      writeFileSync(file, bytes);
      const cpu = process.cpuUsage();
      const start = performance.now();
      let outcome: string;
      try {
        const input = await openInvoiceFile(file);
        let n = 0;
        for await (const _record of input.records) n++;
        outcome = `${n} rows read`;
      } catch (error) {
        outcome = `${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message.slice(0, 90)}`;
      }
      const used = process.cpuUsage(cpu);
      rows.push({ megabytes, fileBytes: bytes.length, cpuMs: Math.round((used.user + used.system) / 1000), wallMs: Math.round(performance.now() - start), outcome });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatWorkbookCellsBench(rows: readonly CellBenchRow[]): string {
  const lines = ['| cell | file | CPU | wall | outcome |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.megabytes} MB | ${(r.fileBytes / 1024).toFixed(0)} KB | ${r.cpuMs} ms | ${r.wallMs} ms | ${r.outcome} |`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  console.log(formatWorkbookCellsBench(await runWorkbookCellsBench(sizes.length > 0 ? sizes : undefined)));
}
