import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const APP = fileURLToPath(new URL('../app/', import.meta.url));

/** The app's modules, each with the app modules it imports at run time (`import type` is erased). */
function runtimeImports(dir: string): Map<string, string[]> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(join(dir, file), 'utf8');
    const targets: string[] = [];
    for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
      if (match[1] || !match[2]) continue;
      const target = relative(dir, resolve(dirname(join(dir, file)), match[2])).replace(/\.js$/, '');
      const found = files.find((f) => f === `${target}.ts` || f === `${target}.tsx`);
      if (found) targets.push(found);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Each cycle once, as the modules along it, starting from the first one met. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      found.push([...path.slice(at), node]);
      return;
    }
    if (seen.has(node)) return;
    seen.add(node);
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

describe("the app's modules", () => {
  it('import each other without a cycle at run time', () => {
    const graph = runtimeImports(APP);
    expect(graph.get('screens/RuleEditor.tsx')).toContain('screens/TestPanel.tsx');
    expect(cycles(graph)).toEqual([]);
  });

  it('would show a cycle through type-free imports', () => {
    const graph = new Map([
      ['a.tsx', ['b.tsx']],
      ['b.tsx', ['c.ts']],
      ['c.ts', ['a.tsx']],
    ]);
    expect(cycles(graph)).toEqual([['a.tsx', 'b.tsx', 'c.ts', 'a.tsx']]);
  });
});
