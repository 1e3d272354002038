import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { scalar } from './condition-compiler.arbitraries.js';

/*
 * Every condition tree written as a literal in the repository: `conditions: { all | any | not ... }`
 * in TypeScript sources and tests (parsed, not run), and in the JSON blocks of the Markdown docs.
 * A literal with anything computed in it (a spread, a variable) is left out and counted.
 */

export const REPOSITORY_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface CollectedConditions {
  /** `file:line` where the literal is. */
  where: string;
  conditions: Record<string, unknown>;
}

export interface Collection {
  found: CollectedConditions[];
  /** Literals left out because part of them is computed. */
  notLiteral: number;
  files: number;
}

const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.cache', 'coverage', '.git', 'screenshots']);

function filesUnder(dir: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (SKIPPED_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, out);
    else if (/\.(ts|tsx|md)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
}

const NOT_LITERAL = Symbol('not literal');

/** The value of a JSON-like literal expression, or NOT_LITERAL. */
function literalValue(node: ts.Expression): unknown {
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isTypeAssertionExpression(node)) return literalValue(node.expression);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(node.operand)) return -Number(node.operand.text);
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (node.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isIdentifier(node) && node.text === 'undefined') return undefined;
  if (ts.isArrayLiteralExpression(node)) {
    const items: unknown[] = [];
    for (const element of node.elements) {
      const value = literalValue(element);
      if (value === NOT_LITERAL) return NOT_LITERAL;
      items.push(value);
    }
    return items;
  }
  if (ts.isObjectLiteralExpression(node)) {
    const entries: Array<[string, unknown]> = [];
    for (const property of node.properties) {
      if (!ts.isPropertyAssignment(property)) return NOT_LITERAL;
      const name = property.name;
      const key = ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined;
      if (key === undefined) return NOT_LITERAL;
      const value = literalValue(property.initializer);
      if (value === NOT_LITERAL) return NOT_LITERAL;
      entries.push([key, value]);
    }
    return Object.fromEntries(entries);
  }
  return NOT_LITERAL;
}

const isGroup = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && ('all' in value || 'any' in value || 'not' in value);

function fromTypeScript(file: string, text: string, collection: Collection): void {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) && node.name.text === 'conditions') {
      const value = literalValue(node.initializer);
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
      if (value === NOT_LITERAL) {
        if (ts.isObjectLiteralExpression(node.initializer)) collection.notLiteral += 1;
      } else if (isGroup(value)) {
        collection.found.push({ where: `${relative(REPOSITORY_ROOT, file)}:${line + 1}`, conditions: value });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

function fromMarkdown(file: string, text: string, collection: Collection): void {
  const blocks = text.matchAll(/```json\n([\s\S]*?)```/g);
  for (const block of blocks) {
    let value: unknown;
    try {
      value = JSON.parse(block[1] ?? '');
    } catch {
      continue;
    }
    const line = text.slice(0, block.index).split('\n').length;
    const stack: unknown[] = [value];
    while (stack.length > 0) {
      const node = stack.pop();
      if (typeof node !== 'object' || node === null) continue;
      for (const [key, child] of Object.entries(node)) {
        if (key === 'conditions' && isGroup(child)) collection.found.push({ where: `${relative(REPOSITORY_ROOT, file)}:${line}`, conditions: child });
        else stack.push(child);
      }
    }
  }
}

/** Collects the literals under packages/, examples/, bench/ and docs/ (and the top-level README). */
export function collectRepositoryConditions(): Collection {
  const files: string[] = [join(REPOSITORY_ROOT, 'README.md')];
  for (const dir of ['packages', 'examples', 'bench', 'docs']) filesUnder(join(REPOSITORY_ROOT, dir), files);
  const collection: Collection = { found: [], notLiteral: 0, files: files.length };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (!text.includes('conditions')) continue;
    if (file.endsWith('.md')) fromMarkdown(file, text, collection);
    else fromTypeScript(file, text, collection);
  }
  return collection;
}

interface LeafShape {
  fact: string;
  path: unknown;
  value: unknown;
}

function leavesOf(conditions: unknown): LeafShape[] {
  const out: LeafShape[] = [];
  const stack: unknown[] = [conditions];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
      continue;
    }
    const record = node as Record<string, unknown>;
    if (typeof record['fact'] === 'string') out.push({ fact: record['fact'], path: record['path'], value: record['value'] });
    for (const key of ['all', 'any', 'not']) if (key in record) stack.push(record[key]);
  }
  return out;
}

/** The steps of a simple path (`$.a.b`, `$['a'][0]`), or null for anything else. */
function simpleSteps(path: unknown): Array<string | number> | null {
  if (path === undefined || path === '' || path === '$') return [];
  if (typeof path !== 'string' || !path.startsWith('$')) return null;
  const steps: Array<string | number> = [];
  const step = /^(?:\.([\p{L}\p{N}_$-]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\])/u;
  let rest = path.slice(1);
  while (rest.length > 0) {
    const match = step.exec(rest);
    if (!match) return null;
    steps.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? match[3] ?? match[4] ?? ''));
    rest = rest.slice(match[0].length);
  }
  return steps;
}

/** Writes `leaf` at `steps` into `root`, building objects and arrays on the way; returns the new root. */
function place(root: unknown, steps: ReadonlyArray<string | number>, leaf: unknown): unknown {
  const [first, ...rest] = steps;
  if (first === undefined) return leaf;
  const container: Record<string | number, unknown> =
    typeof first === 'number' ? (Array.isArray(root) ? [...(root as unknown[])] : []) as unknown as Record<number, unknown> : typeof root === 'object' && root !== null && !Array.isArray(root) ? { ...(root as Record<string, unknown>) } : {};
  container[first] = place(container[first], rest, leaf);
  return container;
}

/**
 * Payloads aimed at one rule's conditions: each fact absent, null, a random value, or an object whose
 * every path a condition reads holds the condition's value, one of its items, or something else.
 */
export function payloadFor(conditions: unknown): fc.Arbitrary<Record<string, unknown>> {
  const leaves = leavesOf(conditions);
  const facts = [...new Set(leaves.map((leaf) => leaf.fact))];
  const targetOf = (leaf: LeafShape): fc.Arbitrary<unknown> => {
    const options: Array<fc.Arbitrary<unknown>> = [scalar, fc.constant(null), fc.constant(undefined)];
    if (leaf.value !== null && typeof leaf.value === 'object' && !Array.isArray(leaf.value)) options.push(fc.constant(leaf.value));
    else options.push(fc.constant(leaf.value), fc.constant(leaf.value));
    if (Array.isArray(leaf.value) && leaf.value.length > 0) options.push(fc.constantFrom(...(leaf.value as unknown[])), fc.constant(leaf.value));
    if (typeof leaf.value === 'number') options.push(fc.constantFrom(leaf.value - 1, leaf.value + 0.01, String(leaf.value)));
    return fc.oneof(...options);
  };
  const factValue = (fact: string): fc.Arbitrary<unknown> => {
    const own = leaves.filter((leaf) => leaf.fact === fact);
    const built = fc.tuple(...own.map(targetOf)).map((targets) => {
      let root: unknown = {};
      own.forEach((leaf, index) => {
        const steps = simpleSteps(leaf.path);
        if (steps && targets[index] !== undefined) root = place(root, steps, targets[index]);
      });
      return root;
    });
    return fc.oneof({ weight: 6, arbitrary: built }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: scalar });
  };
  return fc
    .tuple(...facts.map((fact) => fc.option(factValue(fact), { nil: undefined, freq: 6 })))
    .map((values) => Object.fromEntries(facts.flatMap((fact, index) => (values[index] === undefined ? [] : [[fact, values[index]]]))) as Record<string, unknown>);
}

/** Operators a literal names that no engine here registers: stand-ins make them comparable. */
export function operatorsNamed(conditions: unknown): string[] {
  const names = new Set<string>();
  const stack: unknown[] = [conditions];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) stack.push(...(node as unknown[]));
    else {
      const record = node as Record<string, unknown>;
      if (typeof record['operator'] === 'string') names.add(record['operator'].split(':').pop() ?? '');
      for (const key of ['all', 'any', 'not']) if (key in record) stack.push(record[key]);
    }
  }
  return [...names];
}
