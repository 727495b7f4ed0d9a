/**
 * The zip of a workbook (yauzl): its entries, and a part's text as a stream,
 * within limits. A zip says how large each entry is once inflated, and yauzl
 * checks the inflated bytes against it, so the limits are checked before a
 * byte is inflated: a 67 KB file cannot make paylinks inflate gigabytes.
 */
import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { WorkbookLimitError } from './xml-scan.js';

/**
 * The most a workbook's parts that paylinks reads (the sheet, the shared
 * strings, the styles, the sheet list) may hold once inflated, in bytes,
 * together: 512 MiB. A 1,000,000-row sheet of invoices is about 150 MB.
 */
export const MAX_WORKBOOK_BYTES = 512 * 1024 * 1024;

export type { Entry, ZipFile };

/** Opens `file` as a zip (lazily: the central directory only). */
export function openZip(file: string): Promise<ZipFile> {
  return new Promise<ZipFile>((resolve, reject) => {
    // validateEntrySizes (the default) makes yauzl fail an entry that inflates to more than it declares.
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (error, opened) => (error ? reject(error) : resolve(opened)));
  });
}

/** The zip's entries by name (a leading `/` removed). */
export function listEntries(zip: ZipFile): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Entry>();
    zip.on('entry', (entry: Entry) => {
      entries.set(entry.fileName.replace(/^\/+/, ''), entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

/**
 * Refuses a workbook whose parts to read, `parts` (undefined: absent), would
 * inflate to more than {@link MAX_WORKBOOK_BYTES} together.
 */
export function checkInflatedSize(parts: readonly (Entry | undefined)[]): void {
  let total = 0;
  for (const entry of parts) total += entry?.uncompressedSize ?? 0;
  if (total > MAX_WORKBOOK_BYTES) {
    const mb = (n: number) => `${Math.round(n / (1024 * 1024)).toLocaleString('en-US')} MB`;
    throw new WorkbookLimitError(`its sheet and texts would take ${mb(total)} once unzipped; paylinks reads workbooks of at most ${mb(MAX_WORKBOOK_BYTES)}. Split the file, or save it as CSV`);
  }
}

/** The entry's inflated text, as a stream of UTF-8 strings. */
export function openText(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error) reject(error);
      else resolve(stream.setEncoding('utf8'));
    });
  });
}
