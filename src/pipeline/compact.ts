/**
 * Compact text encodings for what paylinks keeps in Redis per row and per
 * invoice: fixed fields in a fixed order joined by the ASCII unit separator
 * (never JSON with field names), ids as ids (a UUID in 22 characters, a batch
 * id in 13), a payment link as the id it ends with.
 *
 * A value one of whose fields holds the separator itself falls back to a JSON
 * array of the same fields (it begins with `[`, which no compact value does),
 * so any text round-trips. The Lua side of the batch store reads both forms
 * (see scripts/includes/fields.ts).
 */

/** Between the fields of a stored value. */
export const FIELD_SEPARATOR = '\x1f';

/** Joins fields; a JSON array when a field holds the separator. */
export function joinFields(fields: readonly string[]): string {
  return fields.some((f) => f.includes(FIELD_SEPARATOR)) ? JSON.stringify(fields) : fields.join(FIELD_SEPARATOR);
}

/** The fields of a value written by {@link joinFields}. */
export function splitFields(raw: string): string[] {
  return raw.startsWith('[') ? (JSON.parse(raw) as string[]) : raw.split(FIELD_SEPARATOR);
}

/** Value of each lower-case hex digit by character code; -1 for any other character. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i += 1) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Where a UUID's dashes are. */
const UUID_DASHES = new Set([8, 13, 18, 23]);
/** The 16 bytes of the UUID being packed (one at a time: no allocation per id). */
const uuidBytes = new Uint8Array(18);

/** The last id packed and its packing: a row's result and ledger entry pack the same id one after the other. */
let lastPacked: { id: string; packed: string } = { id: '', packed: '~' };

/**
 * A payment id: a lower-case UUID as its 16 bytes in base64url (22
 * characters, no padding), anything else as `~` and itself. Done by hand,
 * once per id: it is on the path of every created link (about a tenth of the
 * time of a Buffer round trip and a regular expression).
 */
export function packId(id: string): string {
  if (id === lastPacked.id) return lastPacked.packed;
  const packed = packUuid(id) ?? `~${id}`;
  lastPacked = { id, packed };
  return packed;
}

function packUuid(id: string): string | undefined {
  if (id.length !== 36) return undefined;
  let n = 0;
  for (let i = 0; i < 36; i += 2) {
    if (UUID_DASHES.has(i)) {
      if (id.charCodeAt(i) !== 45) return undefined;
      i -= 1; // the next pair starts right after the dash
      continue;
    }
    const hi = HEX_VALUE[id.charCodeAt(i)] ?? -1;
    const lo = HEX_VALUE[id.charCodeAt(i + 1)] ?? -1;
    if (hi < 0 || lo < 0) return undefined;
    uuidBytes[n++] = (hi << 4) | lo;
  }
  if (n !== 16) return undefined;
  uuidBytes[16] = 0;
  uuidBytes[17] = 0;
  let out = '';
  for (let i = 0; i < 18; i += 3) {
    const v = (uuidBytes[i]! << 16) | (uuidBytes[i + 1]! << 8) | uuidBytes[i + 2]!;
    out += BASE64URL[(v >> 18) & 63]! + BASE64URL[(v >> 12) & 63]! + BASE64URL[(v >> 6) & 63]! + BASE64URL[v & 63]!;
  }
  // 16 bytes are 22 characters; the last two of 24 come from the padding bytes.
  return out.slice(0, 22);
}

export function unpackId(packed: string): string {
  if (packed.startsWith('~')) return packed.slice(1);
  const hex = Buffer.from(packed, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Where Paywint's links live; a link `<base>/<payment id>` is stored as the base's index. Append only. */
export const KNOWN_LINK_BASES = ['https://pay.sandbox.paywint.com/l', 'https://pay.paywint.com/l'] as const;

/**
 * A payment link, given its payment id: a known base's index (one digit) when
 * the link is `<base>/<id>`; `/` and the base when it ends with `/<id>`;
 * else `=` and the link.
 */
export function packLink(link: string, paymentId: string): string {
  const tail = `/${paymentId}`;
  if (!link.endsWith(tail)) return `=${link}`;
  const base = link.slice(0, -tail.length);
  const known = (KNOWN_LINK_BASES as readonly string[]).indexOf(base);
  return known >= 0 ? String(known) : `/${base}`;
}

export function unpackLink(packed: string, paymentId: string): string {
  if (packed.startsWith('=')) return packed.slice(1);
  if (packed.startsWith('/')) return `${packed.slice(1)}/${paymentId}`;
  return `${KNOWN_LINK_BASES[Number(packed)] ?? ''}/${paymentId}`;
}

const BATCH_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})-([0-9a-f]{6})$/;

/** A batch id as paylinks makes them (`20261125T030457-a1b2c3`) in 13 characters: `*`, the seconds in base 36, the hex tail. */
export function packBatchId(id: string): string {
  if (id === lastBatch.id) return lastBatch.packed;
  const packed = packNewBatchId(id);
  lastBatch = { id, packed };
  return packed;
}

/** The last batch id packed: every row of a group belongs to one batch. */
let lastBatch: { id: string; packed: string } = { id: '', packed: '~' };

function packNewBatchId(id: string): string {
  const m = BATCH_ID.exec(id);
  if (!m) return `~${id}`;
  const seconds = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  return `*${seconds.toString(36)}${m[7]}`;
}

export function unpackBatchId(packed: string): string {
  if (!packed.startsWith('*')) return packed.slice(1);
  const seconds = parseInt(packed.slice(1, -6), 36);
  const stamp = new Date(seconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `${stamp}-${packed.slice(-6)}`;
}

/** A whole number in base 36. */
export function packInt(n: number): string {
  return n.toString(36);
}

export function unpackInt(packed: string): number {
  return parseInt(packed, 36);
}
