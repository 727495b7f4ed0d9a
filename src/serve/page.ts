/**
 * The web page at `/`: plain HTML, CSS and one small script, all served by
 * paylinks itself (no CDN: it works on an intranet). The page holds no data:
 * it signs in with a token and talks only to the documented API.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The page's files: in `src/serve/page/`, found from this module whether it runs from `src/` or `dist/src/`. */
export function pageDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const parts = here.split(path.sep);
  const dist = parts.lastIndexOf('dist');
  const root = dist >= 0 ? parts.slice(0, dist).join(path.sep) : path.resolve(here, '..', '..');
  return path.join(root, 'src', 'serve', 'page');
}

const ASSETS = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/assets/page.css', file: 'page.css', type: 'text/css; charset=utf-8' },
  { url: '/assets/page.js', file: 'page.js', type: 'text/javascript; charset=utf-8' },
  { url: '/assets/icon.svg', file: 'icon.svg', type: 'image/svg+xml' },
];

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const dir = pageDir();
  for (const asset of ASSETS) {
    const body = await readFile(path.join(dir, asset.file));
    app.get(asset.url, { schema: { hide: true } }, async (_request, reply) => reply.type(asset.type).header('cache-control', 'no-cache').send(body));
  }
}
