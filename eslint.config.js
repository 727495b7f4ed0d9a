// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The layers of paylinks, bottom first: core -> intake, paywint -> pipeline
 * -> notify, mail, jobs -> serve, inbox -> cli, with src/index.ts and src/main.ts on
 * top. A folder may import only the folders listed before it (so `jobs` may
 * use `notify`, `inbox` may use `serve`, not the other way round). A
 * back-arrow fails the lint, and so `npm test`; as the list is one order, no
 * two folders can import each other (no folder-level cycle).
 * docs/architecture.md says why each folder sits where it does.
 */
const LAYERS = [
  ['src/core'],
  ['src/intake', 'src/paywint'],
  ['src/pipeline'],
  ['src/notify', 'src/mail', 'jobs'],
  ['src/serve', 'src/inbox'],
  ['src/cli'],
];
const ENTRY_POINTS = ['src/index', 'src/main'];

/** The import-rule blocks: for each folder, the folders after it, which it must not import (matched as written: relative paths). */
function layerRules() {
  const folders = LAYERS.flat();
  const name = (folder) => folder.replace(/^src\//, '');
  return folders.map((folder, i) => {
    const above = folders.slice(i + 1);
    const message = `layers point down only (${LAYERS.map((level) => level.map(name).join(', ')).join(' -> ')} -> index, main): ${name(folder)} may not import this; see docs/architecture.md`;
    return {
      files: [`${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              ...(above.length > 0 ? [{ regex: `^(\\.\\./)+(src/)?(${above.map(name).join('|')})/`, message }] : []),
              { regex: `^(\\.\\./)+(src/)?(${ENTRY_POINTS.map(name).join('|')})\\.js$`, message: `${message}; the entry points are the top` },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.paylinks/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  ...layerRules(),
  // The web page's script runs in the browser.
  { files: ['src/serve/page/**/*.js'], languageOptions: { sourceType: 'script', globals: globals.browser } },
);
