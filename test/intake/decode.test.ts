/**
 * Encoding detection and decoding, on the fixture bytes and on bytes cut
 * into chunks at every awkward place (inside a UTF-8 sequence, between CR
 * and LF, inside a UTF-16 code unit).
 */
import { readFileSync } from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { InvoiceDecoder, type FileEncoding } from '../../src/intake/decode.js';
import { InputFileError } from '../../src/core/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));

/** Decodes `bytes` fed in chunks of `size`; returns the text and the decoder. */
function decode(bytes: Buffer, size = bytes.length || 1): { text: string; decoder: InvoiceDecoder } {
  const decoder = new InvoiceDecoder('test.csv');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(decoder.write(bytes.subarray(i, i + size)));
  out.push(decoder.end());
  return { text: Buffer.concat(out).toString('utf8'), decoder };
}

function decodeError(bytes: Buffer, size?: number): InputFileError {
  try {
    decode(bytes, size);
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error('expected an InputFileError');
}

const CASES: [string, FileEncoding, string][] = [
  ['invoices.csv', 'utf-8', 'utf-8'],
  ['utf8-accents.csv', 'utf-8', 'utf-8'],
  ['utf8-bom-crlf.csv', 'utf-8', 'utf-8'],
  ['windows-1252-semicolon.csv', 'windows-1252', 'windows-1252'],
  ['windows-1252-late.csv', 'windows-1252', 'windows-1252'],
  ['utf16le-tab.txt', 'utf-16le', 'utf-16le'],
  ['utf16be-tab.txt', 'utf-16be', 'utf-16be'],
];

describe('InvoiceDecoder', () => {
  for (const [name, encoding, iconvName] of CASES) {
    it(`reads ${name} as ${encoding}, whatever the chunk size`, () => {
      const bytes = fixture(name);
      const expected = iconv.decode(bytes, iconvName).replace(/^\uFEFF/, '');
      for (const size of [1, 2, 3, 5, 64, 4096, bytes.length]) {
        const { text, decoder } = decode(bytes, size);
        expect(decoder.encoding).toBe(encoding);
        expect(text).toBe(expected);
      }
    });
  }

  it('decodes Windows-1252 accents and the euro sign', () => {
    const { text } = decode(fixture('windows-1252-semicolon.csv'));
    expect(text).toContain("Café crème – réunion d'équipe");
    expect(text).toContain('Beratung für Qualitätsprüfung');
    expect(text).toContain('Año nuevo: piñatas y señales');
    expect(text).toContain('Abonnement mensuel 12 €');
    expect(text).toContain('Straße AG');
  });

  it('drops the BOM and says it was there', () => {
    const { text, decoder } = decode(fixture('utf8-bom-crlf.csv'));
    expect(text.startsWith('Invoice #,')).toBe(true);
    expect(decoder.bom).toBe(true);
    expect(decode(fixture('invoices.csv')).decoder.bom).toBe(false);
  });

  it('stays undecided (reporting utf-8) while only ASCII was seen, then settles', () => {
    const decoder = new InvoiceDecoder('test.csv');
    decoder.write(Buffer.from('invoice_number,amount\nA-1,10.00\n'));
    expect(decoder.encoding).toBe('utf-8');
    expect(decoder.decided).toBe(false);
    const out = decoder.write(iconv.encode('A-2,5.00,Crème\n', 'windows-1252'));
    expect(decoder.decided).toBe(true);
    expect(decoder.encoding).toBe('windows-1252');
    expect(out.toString('utf8')).toBe('A-2,5.00,Crème\n');
  });

  it('tells a listener when the encoding is decided', () => {
    const seen: FileEncoding[] = [];
    const decoder = new InvoiceDecoder('test.csv', (e) => seen.push(e));
    decoder.write(Buffer.from('plain ascii\n'));
    decoder.write(Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x0a])); // "Café\n" in Windows-1252
    decoder.end();
    expect(seen).toEqual(['windows-1252']);
  });

  it('recognises UTF-16 LE without a BOM by its zero bytes', () => {
    const { text, decoder } = decode(Buffer.from('Invoice #\tAmount\r\nX-1\t1.00\r\n', 'utf16le'), 3);
    expect(decoder.encoding).toBe('utf-16le');
    expect(text).toBe('Invoice #\tAmount\r\nX-1\t1.00\r\n');
  });

  it('refuses mixed encodings with the line of the first bad byte, however the bytes are cut', () => {
    for (const size of [1, 7, 4096, 1 << 20]) {
      const error = decodeError(fixture('mixed-encoding.csv'), size);
      expect(error.code).toBe('FILE_UNDECODABLE');
      expect(error.line).toBe(4);
      expect(error.message).toContain('the file mixes two encodings');
    }
    expect(decodeError(fixture('mixed-encoding-late.csv'), 65_536).line).toBe(2002);
  });

  it('counts lines through CR LF pairs cut between chunks', () => {
    const bytes = Buffer.concat([Buffer.from('h\r\n\r\na é\r\nb\rc\r\n'), Buffer.from([0xff]), Buffer.from('\n')]);
    for (const size of [1, 2, 3, 4, 5]) {
      // Lines: 1 "h", 2 "", 3 "a é", 4 "b", 5 "c", 6 the bad byte.
      expect(decodeError(bytes, size).line).toBe(6);
    }
  });

  it('refuses a UTF-8 sequence cut off by the end of the file', () => {
    const error = decodeError(Buffer.concat([Buffer.from('a,b\nCrème\nx'), Buffer.from([0xc3])]));
    expect(error.code).toBe('FILE_UNDECODABLE');
    expect(error.line).toBe(3);
  });

  it('refuses workbooks and binary files with a message saying what to do', () => {
    expect(decodeError(fixture('workbook.xlsx.csv')).message).toContain('Excel workbook (.xlsx)');
    expect(decodeError(fixture('workbook.xlsx.csv')).message).toContain('CSV UTF-8');
    expect(decodeError(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])).message).toContain('old Excel workbook (.xls)');
    const nul = decodeError(fixture('nul-bytes.csv'));
    expect(nul.message).toContain('NUL bytes');
    expect(nul.line).toBe(2);
  });

  it('decodes an empty input to nothing', () => {
    expect(decode(Buffer.alloc(0)).text).toBe('');
  });
});
