/** Reading an output CSV back the way a user's spreadsheet would. */
import { readFile, writeFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';

export type CsvRow = Record<string, string>;

export async function readOutputCsv(file: string): Promise<{ raw: string; rows: CsvRow[]; headers: string[] }> {
  const raw = await readFile(file, 'utf8');
  const records = parse(raw, { bom: true, relax_column_count: false }) as string[][];
  const [headers, ...body] = records;
  if (!headers) throw new Error(`${file} is empty`);
  return { raw, headers, rows: body.map((cells) => Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? '']))) };
}

/** Writes a small invoice CSV: rows of [invoice, amount, description]. */
export async function writeInvoices(file: string, rows: readonly (readonly [string, string, string])[]): Promise<void> {
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const text = ['invoice_number,amount,description', ...rows.map((r) => r.map(quote).join(','))].join('\n') + '\n';
  await writeFile(file, text);
}
