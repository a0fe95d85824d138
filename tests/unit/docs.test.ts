// The docs a newcomer reads: the README is one page, and every link in the
// README, ARCHITECTURE.md and docs/ leads to a file that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const pages = [
  'README.md',
  'ARCHITECTURE.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

describe('the docs', () => {
  it('keep the README to one page (at most 150 lines), the topics in docs/', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(150);
    expect(pages.filter((p) => p.startsWith('docs/')).length).toBeGreaterThanOrEqual(5);
  });

  it('link only to files that exist', () => {
    const broken = pages.flatMap((page) =>
      [...readFileSync(join(ROOT, page), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(ROOT, dirname(page), target)))
        .map((target) => `${page} -> ${target}`),
    );
    expect(broken).toEqual([]);
  });
});

describe('the docs and the code agree', () => {
  it('name only paths of the project that exist (lib/, tests/, bench/, fixtures/, ci/, docs/)', () => {
    const missing = pages.flatMap((page) =>
      [...readFileSync(join(ROOT, page), 'utf8').matchAll(/(?<![\w./-])((?:lib|tests|bench|fixtures|ci|docs)\/[\w./-]*[\w/])(-?<|\*)?/g)]
        // A path with a placeholder (lib/suite/<name>/, tg-<type>.ts) or a glob is a pattern, not a file.
        .filter((m) => !m[2])
        .map((m) => m[1]!)
        .filter((p) => !existsSync(join(ROOT, p)) && !existsSync(join(ROOT, p.replace(/\.js$/, '.ts'))))
        .map((p) => `${page}: ${p}`),
    );
    expect([...new Set(missing)]).toEqual([]);
  });

  it("give every folder of lib/ a row in docs/layout.md and a node in ARCHITECTURE.md's diagram", () => {
    const folders = readdirSync(join(ROOT, 'lib'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const layout = readFileSync(join(ROOT, 'docs', 'layout.md'), 'utf8');
    const architecture = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    expect(folders.filter((f) => !layout.includes(`| \`lib/${f}\` |`))).toEqual([]);
    // A folder of modules, that is: lib/types holds declarations only (.d.ts), which nothing imports by path.
    const modules = folders.filter((f) => readdirSync(join(ROOT, 'lib', f)).some((x) => x.endsWith('.ts') && !x.endsWith('.d.ts')));
    expect(modules.filter((f) => !architecture.includes(`["lib/${f}`))).toEqual([]);
  });
});
