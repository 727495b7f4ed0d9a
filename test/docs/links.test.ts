/**
 * Every relative link in README.md and docs/*.md leads somewhere in this
 * repository: a file or folder that a clone has (inside the repository, not
 * git-ignored), and, where the link names a heading (`#anchor`) of a Markdown
 * file, a heading that exists there. Links to other sites are not followed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

interface Link {
  /** The Markdown file, relative to the repository. */
  file: string;
  line: number;
  target: string;
}

/** Markdown text without fenced code blocks and inline code (links there are examples, not links). */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const opener = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      return '';
    }
    if (opener !== undefined) {
      fence = opener;
      return '';
    }
    return line.replace(/(`+)[^`]*?\1/g, '');
  });
}

/** Inline links and images, `[text](target "title")`, and reference definitions, `[id]: target`. */
function linksIn(file: string, markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((text, index) => {
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ file, line: index + 1, target: m[1]! });
    const ref = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(text);
    if (ref) links.push({ file, line: index + 1, target: ref[1]! });
  });
  return links;
}

/** GitHub's anchors for the headings of a Markdown file: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLinesKeepingCode(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Headings keep their inline code (its text is part of the anchor); fenced blocks are still skipped. */
function proseLinesKeepingCode(markdown: string): string[] {
  const lines = markdown.split('\n');
  let fence: string | undefined;
  return lines.map((line) => {
    const opener = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      return '';
    }
    if (opener !== undefined) {
      fence = opener;
      return '';
    }
    return line;
  });
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** What is wrong with each relative link of these Markdown files (empty when every one resolves). */
function brokenLinks(root: string, files: readonly string[], ignored: (relative: string[]) => Set<string>): string[] {
  const problems: string[] = [];
  const toCheck: { link: Link; relative: string; anchor: string | undefined }[] = [];
  for (const file of files) {
    for (const link of linksIn(file, readFileSync(path.join(root, file), 'utf8'))) {
      if (isExternal(link.target)) continue;
      const hash = link.target.indexOf('#');
      const rawPath = hash >= 0 ? link.target.slice(0, hash) : link.target;
      const anchor = hash >= 0 ? decodeURIComponent(link.target.slice(hash + 1)) : undefined;
      const resolved = rawPath === '' ? path.join(root, file) : path.resolve(root, path.dirname(file), decodeURIComponent(rawPath));
      const relative = path.relative(root, resolved);
      const where = `${file}:${link.line}: ${link.target}`;
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        problems.push(`${where} points outside the repository`);
      } else if (!existsSync(resolved)) {
        problems.push(`${where} names a file that does not exist`);
      } else {
        toCheck.push({ link, relative, anchor });
      }
    }
  }
  const ignoredPaths = ignored(toCheck.map((c) => c.relative).filter((r) => r !== ''));
  for (const { link, relative, anchor } of toCheck) {
    const where = `${link.file}:${link.line}: ${link.target}`;
    if (ignoredPaths.has(relative)) {
      problems.push(`${where} names a git-ignored file (a clone does not have it)`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && relative.endsWith('.md')) {
      if (!anchorsOf(readFileSync(path.join(root, relative), 'utf8')).has(anchor)) problems.push(`${where}: no heading "#${anchor}" in ${relative}`);
    }
  }
  return problems;
}

/** The paths among these that git ignores (`git check-ignore`; exit 1 means none is). */
function gitIgnored(relative: string[]): Set<string> {
  if (relative.length === 0) return new Set();
  try {
    const out = execFileSync('git', ['check-ignore', '--stdin'], { cwd: REPO_ROOT, input: relative.join('\n'), encoding: 'utf8' });
    return new Set(out.split('\n').filter(Boolean));
  } catch (error) {
    if ((error as { status?: number }).status === 1) return new Set();
    throw error;
  }
}

function documentationFiles(): string[] {
  const docs = existsSync(path.join(REPO_ROOT, 'docs'))
    ? readdirSync(path.join(REPO_ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs.sort()];
}

describe('documentation links', () => {
  it('reports a link out of the repository, a missing file, a missing heading and an ignored file (the check can fail)', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'paylinks-links-'));
    try {
      mkdirSync(path.join(root, 'docs'));
      writeFileSync(path.join(root, 'docs', 'ok.md'), '# Ok\n\n## The web page (`paylinks serve`)\n');
      writeFileSync(path.join(root, 'local.env'), 'x');
      writeFileSync(
        path.join(root, 'README.md'),
        [
          '# Readme',
          '[out](../shared/paywint/README.md) [gone](docs/no-such-file.md) [anchor](#no-such-heading)',
          '[far anchor](docs/ok.md#nowhere) [ignored](local.env)',
          '[fine](docs/ok.md#the-web-page-paylinks-serve) [self](#readme) ![img](docs/ok.md) [web](https://example.org/x)',
          '`[in code](not-checked.md)`',
          '```',
          '[in a fence](not-checked-either.md)',
          '```',
        ].join('\n'),
      );
      const problems = brokenLinks(root, ['README.md'], (paths) => new Set(paths.filter((p) => p === 'local.env')));
      expect(problems).toEqual([
        'README.md:2: ../shared/paywint/README.md points outside the repository',
        'README.md:2: docs/no-such-file.md names a file that does not exist',
        'README.md:2: #no-such-heading: no heading "#no-such-heading" in README.md',
        'README.md:3: docs/ok.md#nowhere: no heading "#nowhere" in docs/ok.md',
        'README.md:3: local.env names a git-ignored file (a clone does not have it)',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('every relative link in README.md and docs/*.md resolves inside the repository', () => {
    const files = documentationFiles();
    expect(files).toContain('docs/paywint.md');
    const links = files.flatMap((f) => linksIn(f, readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    expect(links.filter((l) => !isExternal(l.target)).length).toBeGreaterThan(5);
    expect(brokenLinks(REPO_ROOT, files, gitIgnored)).toEqual([]);
  });
});
