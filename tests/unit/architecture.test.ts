// The layout ARCHITECTURE.md promises, checked on the code itself: no import
// cycle; dependencies point one way (suites -> scenario -> transport); the
// report knows nothing of the run engine; parsers, checks, results and the
// capability model do no I/O; ports have roles, not positions.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionSpans } from '../helpers/function-spans.js';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const LIB = join(ROOT, 'lib');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Each lib module and what it imports (lib modules by path from lib/, packages and node: by name). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of filesUnder(LIB)) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)].map((m) => m[1]!);
    graph.set(
      relative(LIB, file),
      specs.map((s) => (s.startsWith('.') ? relative(LIB, resolve(dirname(file), s)).replace(/\.js$/, '.ts') : s)),
    );
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      found.push([...path.slice(path.indexOf(node)), node]);
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) if (graph.has(next)) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

const graph = importGraph();

/** Where in lib/ (file:line) a line matches the pattern, but in the one file allowed to. */
function linesMatching(pattern: RegExp, allowedIn: string): string[] {
  return filesUnder(LIB)
    .filter((f) => !f.endsWith(allowedIn))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (pattern.test(line) ? [`${relative(ROOT, f)}:${i + 1}`] : [])),
    );
}
const importsOf = (folder: string) => [...graph].filter(([m]) => m.startsWith(folder)).flatMap(([m, deps]) => deps.map((d) => `${m} -> ${d}`));

describe('the layout of lib/', () => {
  it("is drawn as it is: ARCHITECTURE.md's diagram has every folder-to-folder import of lib/, and no other", () => {
    const text = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const diagram = /```mermaid\n([^`]*)```/.exec(text)![1]!;
    // A node's folder is the first lib/ path of its label; `all -.-> x` makes x a module every module may import.
    const folderOf = new Map<string, string>();
    for (const m of diagram.matchAll(/(\w+)\["lib\/([\w-]+)/g)) folderOf.set(m[1]!, m[2]!.replace(/\.ts$/, ''));
    const shared = [...diagram.matchAll(/all(?:\[[^\]]*\])? -\.-> (\w+)/g)].map((m) => folderOf.get(m[1]!)!);
    const drawn = [...diagram.matchAll(/^\s*(\w+)(?:\[[^\]]*\])? --> (\w+)/gm)]
      .filter((m) => folderOf.has(m[1]!))
      .map((m) => `${folderOf.get(m[1]!)} -> ${folderOf.get(m[2]!)}`);
    const folder = (m: string) => m.split('/')[0]!.replace(/\.ts$/, '');
    const real = new Set(
      [...graph]
        .flatMap(([m, deps]) => deps.filter((d) => graph.has(d)).map((d) => [folder(m), folder(d)] as const))
        .filter(([a, b]) => a !== b && !shared.includes(b))
        .map(([a, b]) => `${a} -> ${b}`),
    );
    expect(shared.sort()).toEqual(['capabilities', 'errors', 'files', 'testbed', 'wait']);
    expect([...new Set(drawn)].sort()).toEqual([...real].sort());
  });

  it('has no import cycle (type imports included)', () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(cycles(graph)).toEqual([]);
  });

  it('points one way: nothing below the suites imports them, nothing below the run engine imports scenario/', () => {
    expect(
      [...graph].flatMap(([m, deps]) =>
        m.startsWith('suite/') || m.startsWith('cli/') || m.startsWith('run/') ? [] : deps.filter((d) => d.startsWith('suite/')),
      ),
    ).toEqual([]);
    const belowScenario = ['transport/', 'traffic/', 'verify/', 'parsers/', 'testbed/', 'results/', 'report/', 'store/', 'profiles/', 'vlab/', 'probes/'];
    expect(belowScenario.flatMap(importsOf).filter((e) => / -> scenario\//.test(e))).toEqual([]);
  });

  it('keeps report/ and store/ apart from the run engine and the suites: they read the measured kinds of results/ only', () => {
    expect(importsOf('report/').filter((e) => / -> (scenario|transport|suite)\//.test(e))).toEqual([]);
    expect(importsOf('store/').filter((e) => / -> (scenario|transport|suite|report)\//.test(e))).toEqual([]);
  });

  it('keeps the engine (scenario/) free of any suite: the suites own their cases and results', () => {
    expect(importsOf('scenario/').filter((e) => / -> suite\//.test(e))).toEqual([]);
  });

  it("makes a product suite one folder: lib/suite/<name>/suite.ts defines it under its folder's name, and nothing outside the folder imports it (the catalog finds it)", () => {
    const folders = readdirSync(join(LIB, 'suite')).filter((f) => statSync(join(LIB, 'suite', f)).isDirectory() && !f.startsWith('added-product-'));
    expect(folders.length).toBeGreaterThan(0);
    for (const name of folders) {
      const file = join(LIB, 'suite', name, 'suite.ts');
      const text = readFileSync(file, 'utf8');
      expect(text, `${relative(ROOT, file)}: export default defineSuite(...)`).toMatch(/^export default defineSuite\(/m);
      expect(text, `${relative(ROOT, file)}: named after its folder`).toMatch(new RegExp(`\\bname: '${name}'`));
    }
    const intoFolder = [...graph].flatMap(([m, deps]) =>
      deps.filter((d) => /^suite\/[^/]+\//.test(d) && d.split('/')[1] !== m.split('/')[1]).map((d) => `${m} -> ${d}`),
    );
    expect(intoFolder).toEqual([]);
  });

  it('keeps the benches on lib/: no bench/ file imports from tests/', () => {
    const bench = join(ROOT, 'bench');
    const fromTests = readdirSync(bench)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(bench, f), 'utf8').matchAll(/\bfrom\s+'(\.\.\/tests\/[^']+)'/g)].map((m) => `bench/${f} -> ${m[1]}`));
    expect(fromTests).toEqual([]);
  });

  it('handles signals in one place: no process.on of a signal and no process.exit outside lib/run/signals.ts', () => {
    expect(linesMatching(/process\.(on|once|addListener)\(\s*('SIG|"SIG|sig\b)|process\.exit\(/, join('run', 'signals.ts'))).toEqual([]);
  });

  it('keeps parsers, checks, results, the throughput search, the capability model and the stream pure: nothing they reach does I/O', () => {
    const pure = [
      ...[...graph.keys()].filter((m) => /^(parsers|verify|results|throughput)\//.test(m) || /^suite\/[^/]+\/result\.ts$/.test(m)),
      'capabilities.ts',
      'traffic/stream.ts',
      'testbed/topology.ts',
      'testbed/path.ts',
    ];
    // What a module reaches through its imports, type imports included.
    const reach = (m: string, seen = new Set<string>()): Set<string> => {
      for (const d of graph.get(m) ?? []) if (!seen.has(d)) seen.add(d) && reach(d, seen);
      return seen;
    };
    const io = /^(node:(child_process|net|fs|fs\/promises|dgram)|ssh2|execa|transport\/|scenario\/|vlab\/)/;
    expect(pure.flatMap((m) => [...reach(m)].filter((d) => io.test(d)).map((d) => `${m} reaches ${d}`))).toEqual([]);
  });

  it('keeps each file readable and the engine small: no file in lib/ over 450 lines, scenario/ at most 12 % of lib/', () => {
    const lines = (f: string) => readFileSync(f, 'utf8').split('\n').length;
    const files = filesUnder(LIB);
    expect(files.filter((f) => lines(f) > 450).map((f) => `${relative(ROOT, f)}: ${lines(f)} lines`)).toEqual([]);
    const total = files.reduce((a, f) => a + lines(f), 0);
    const engine = files.filter((f) => f.startsWith(join(LIB, 'scenario'))).reduce((a, f) => a + lines(f), 0);
    expect(engine / total).toBeLessThanOrEqual(0.12);
  });

  it('keeps functions and commands short: no function in lib/ over 80 lines, no file of lib/cli/ over 150', () => {
    const long = filesUnder(LIB).flatMap((f) =>
      functionSpans(readFileSync(f, 'utf8')).flatMap((s) => (s.lines > 80 ? [`${relative(ROOT, f)}:${s.line}: ${s.lines} lines`] : [])),
    );
    expect(long).toEqual([]);
    const lines = (f: string) => readFileSync(f, 'utf8').split('\n').length;
    expect(
      filesUnder(join(LIB, 'cli'))
        .filter((f) => lines(f) > 150)
        .map((f) => `${relative(ROOT, f)}: ${lines(f)} lines`),
    ).toEqual([]);
  });

  it('waits one way: no deadline loop outside lib/wait.ts (waitUntil, with its bound and the words of what it awaits)', () => {
    const loop =
      /\bwhile\s*\([^)]*Date\.now\(\)|\b\w*[dD]eadline\w*\s*=\s*(\w+\s*\+\s*)?Date\.now\(\)|\b\w*[dD]eadline\w*\s*=\s*\w+\s*\+|Date\.now\(\)\s*>=?\s*\w*[dD]eadline/;
    expect(linesMatching(loop, join('lib', 'wait.ts'))).toEqual([]);
  });

  it('undoes one way: no hand-written reverse-order undo loop outside the fixtures (lib/scenario/teardown.ts)', () => {
    const loop = /for \(const \w+ of (\[\.\.\.)?[\w.]+\]?\.reverse\(\)\)/;
    expect(linesMatching(loop, join('scenario', 'teardown.ts'))).toEqual([]);
  });

  it("names ports by role: no position index into the testbed's ports outside the topology module", () => {
    const byPosition = /\b(phyPorts|vmPorts|kniPorts|tgPorts)\s*\[\s*\d+\s*\]|\.ports\[\s*\d+\s*\]/;
    expect(linesMatching(byPosition, join('testbed', 'topology.ts'))).toEqual([]);
  });
});
