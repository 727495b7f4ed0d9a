/**
 * Scans of raw bytes the decoder needs, with no state of their own: where
 * lines end (LF, CR LF, lone CR) and where UTF-8 sequences are valid,
 * invalid or cut by the end of a chunk.
 */

const LF = 0x0a;
const CR = 0x0d;

/**
 * Line breaks in `buf[from, to)`: LF, CR LF and a lone CR each count one.
 * `afterCr`: the byte before `from` was a CR (so an LF at `from` is its pair).
 */
export function countLineBreaks(buf: Buffer, from: number, to: number, afterCr = false): number {
  let count = 0;
  let i = buf.indexOf(LF, from);
  while (i !== -1 && i < to) {
    count++;
    i = buf.indexOf(LF, i + 1);
  }
  // A CR not followed by LF ends a line too (old Mac files). A CR that ends
  // the buffer is counted now; `afterCr` takes it back if the next buffer
  // starts with its LF.
  let j = buf.indexOf(CR, from);
  while (j !== -1 && j < to) {
    if (buf[j + 1] !== LF) count++;
    j = buf.indexOf(CR, j + 1);
  }
  if (afterCr && from < to && buf[from] === LF) count--;
  return count;
}

/** Where an incomplete UTF-8 sequence at the end of `buf` starts (or `buf.length`). */
export function incompleteTailStart(buf: Buffer): number {
  const len = buf.length;
  let i = len - 1;
  while (i >= 0 && i > len - 4 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return len;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return len - i < need ? i : len;
}

/**
 * The UTF-8 sequence starting at `buf[i]`: its length in bytes; 0 if it is
 * invalid; -1 if the buffer ends inside it (invalid instead when `end`).
 */
export function utf8SequenceAt(buf: Buffer, i: number, end: boolean): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    if (b === 0xe0) lo = 0xa0;
    if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    if (b === 0xf0) lo = 0x90;
    if (b === 0xf4) hi = 0x8f;
  } else return 0;
  for (let k = 1; k <= need; k++) {
    if (i + k >= buf.length) return end ? 0 : -1;
    const c = buf[i + k]!;
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return 0;
  }
  return need + 1;
}

/** Index of the first invalid UTF-8 sequence from `start`, or -1 (an incomplete one at the end counts only when `end`). */
export function firstInvalidUtf8(buf: Buffer, start: number, end: boolean): number {
  let i = start;
  while (i < buf.length) {
    const length = utf8SequenceAt(buf, i, end);
    if (length === 0) return i;
    if (length === -1) return -1;
    i += length;
  }
  return -1;
}
