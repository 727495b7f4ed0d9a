/**
 * The web page at `/`: plain HTML, CSS and a few small script modules (no
 * bundler: one module per step of the page), all served by
 * paylinks itself (no CDN: it works on an intranet). The page holds no data:
 * it signs in with a token and talks only to the documented API.
 */
import { readdir, readFile } from 'node:fs/promises';
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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Every file of the page's folder: `index.html` at `/`, the others (its script modules, style, icon) under `/assets/`. */
export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const dir = pageDir();
  for (const name of (await readdir(dir)).sort()) {
    const type = TYPES[path.extname(name)];
    if (type === undefined) continue;
    const body = await readFile(path.join(dir, name));
    const url = name === 'index.html' ? '/' : `/assets/${name}`;
    app.get(url, { schema: { hide: true } }, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }
}
