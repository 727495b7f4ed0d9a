/**
 * Hostile workbooks built in memory, byte by byte: a minimal zip writer
 * (deflate or stored, central directory, no extras) and the few XML parts an
 * Excel workbook needs. Used by the tests of the workbook reader's limits and
 * by `npm run bench -- workbook-cells` (a 64 MB cell deflates to 64 KB, so
 * nothing huge is ever committed).
 */
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';

export interface ZipPart {
  name: string;
  data: Buffer | string;
  /** Store without compression. Default: deflate. */
  stored?: boolean;
  /** Write this as the declared uncompressed size instead of the true one (a lying zip). */
  declaredSize?: number;
  /** `data` is deflated already (see {@link deflatedRepeat}): its crc and uncompressed size. */
  deflated?: { crc: number; size: number };
}

/** A zip file of `parts`, as yauzl (and Excel) read them. */
export function zipOf(parts: readonly ZipPart[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const raw = typeof part.data === 'string' ? Buffer.from(part.data, 'utf8') : part.data;
    const body = part.stored || part.deflated ? raw : deflateRawSync(raw);
    const name = Buffer.from(part.name, 'utf8');
    const crc = part.deflated?.crc ?? crc32(raw);
    const size = part.declaredSize ?? part.deflated?.size ?? raw.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(part.stored ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(part.stored ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const WORKBOOK = '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Invoices" sheetId="1" r:id="rId1"/></sheets></workbook>';
const RELS =
  '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>';

/** The XML of a sheet whose rows are `rows` (cells as given: already `<c>` elements), rows numbered from 1. */
export function sheetXml(rows: readonly string[]): string {
  const body = rows.map((cells, i) => `<row r="${i + 1}">${cells}</row>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${body}</sheetData></worksheet>`;
}

/** An inline-string cell. */
export function inlineCell(ref: string, text: string): string {
  return `<c r="${ref}" t="inlineStr"><is><t>${text}</t></is></c>`;
}

/** A workbook of one sheet `sheet` (its XML) and, when given, the shared-strings part. */
export function workbookOf(sheet: string | Buffer, sharedStrings?: string | Buffer, options: { declaredSheetSize?: number } = {}): Buffer {
  const parts: ZipPart[] = [
    { name: 'xl/workbook.xml', data: WORKBOOK },
    { name: 'xl/_rels/workbook.xml.rels', data: RELS },
    { name: 'xl/worksheets/sheet1.xml', data: sheet, declaredSize: options.declaredSheetSize },
  ];
  if (sharedStrings !== undefined) parts.push({ name: 'xl/sharedStrings.xml', data: sharedStrings });
  return zipOf(parts);
}

/** A header row and one data row whose description cell holds `cellChars` characters of plain text (no markup). */
export function oneLongCell(cellChars: number): Buffer {
  const header = inlineCell('A1', 'invoice_number') + inlineCell('B1', 'amount') + inlineCell('C1', 'description');
  const head = Buffer.from(sheetXml([header, `${inlineCell('A2', 'L-1')}<c r="B2"><v>10</v></c><c r="C2" t="inlineStr"><is><t>\u0000`]).split('\u0000')[0]!, 'utf8');
  const tail = Buffer.from('</t></is></c></row></sheetData></worksheet>', 'utf8');
  return workbookOf(Buffer.concat([head, Buffer.alloc(cellChars, 0x41), tail]));
}

/**
 * `head`, then `middle` `times` over, then `tail`, deflated as a stream (hundreds of MB of XML become a few hundred
 * KB, never held whole): a zip part's body with its crc and size.
 */
export async function deflatedRepeat(head: string, middle: string, times: number, tail: string): Promise<{ body: Buffer; crc: number; size: number }> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => deflate.once('end', resolve).once('error', reject));
  let crc = 0;
  let size = 0;
  const write = async (chunk: Buffer) => {
    crc = crc32(chunk, crc);
    size += chunk.length;
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  };
  await write(Buffer.from(head, 'utf8'));
  const perChunk = Math.max(1, Math.floor((1024 * 1024) / Buffer.byteLength(middle)));
  const block = Buffer.from(middle.repeat(perChunk), 'utf8');
  let left = times;
  for (; left >= perChunk; left -= perChunk) await write(block);
  if (left > 0) await write(Buffer.from(middle.repeat(left), 'utf8'));
  await write(Buffer.from(tail, 'utf8'));
  deflate.end();
  await done;
  return { body: Buffer.concat(out), crc, size };
}

/**
 * A workbook whose sheet is a header and `rows` identical data rows (invoice 1, no amount): a few hundred KB that
 * unzip to 26 bytes a row, to keep a reader busy (20 million rows, 520 MB, is the most the size limit lets in).
 */
export async function manyRowsWorkbook(rows: number): Promise<Buffer> {
  const header = inlineCell('A1', 'invoice_number') + inlineCell('B1', 'amount');
  const [head, tail] = sheetXml([header, '\u0000']).split('<row r="2">\u0000</row>') as [string, string];
  const sheet = await deflatedRepeat(head, '<row><c><v>1</v></c></row>', rows, tail);
  return zipOf([
    { name: 'xl/workbook.xml', data: WORKBOOK },
    { name: 'xl/_rels/workbook.xml.rels', data: RELS },
    { name: 'xl/worksheets/sheet1.xml', data: sheet.body, deflated: { crc: sheet.crc, size: sheet.size } },
  ]);
}
