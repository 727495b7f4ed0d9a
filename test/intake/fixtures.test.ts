/**
 * The committed fixtures are exactly what fixtures/make-fixtures.ts builds.
 * `UPDATE_FIXTURES=1 npx vitest run test/intake-fixtures` writes them anew.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFixtures } from '../../fixtures/make-fixtures.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

describe('fixtures', () => {
  for (const [name, bytes] of buildFixtures()) {
    it(`${name} is what make-fixtures.ts builds`, () => {
      const file = path.join(dir, name);
      if (process.env.UPDATE_FIXTURES === '1') writeFileSync(file, bytes);
      expect(readFileSync(file).equals(bytes)).toBe(true);
    });
  }
});
