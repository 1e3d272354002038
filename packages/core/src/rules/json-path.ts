// One file: the save-time checks and the run-time evaluation share one parser, cache and cost model;
// split, a path accepted when a rule is saved could be read differently when it runs.
import { AutomationError } from '../errors.js';

/**
 * The JSONPath dialect of rules (condition `path`, fact references), parsed and evaluated here rather
 * than by a general JSONPath library so that its cost is bounded and it never leaves own properties:
 *
 * - `$`, `.name`, `['name']` / `["name"]`, `[3]`: one value; a missing step gives `undefined`.
 * - `*` / `[*]` (every child), `..name` / `..*` / `..[n]` (recursive descent), `[1,2]` / `['a','b']`
 *   (union), `[start:end:step]` (slice): every match, as an array (`undefined` when nothing matches).
 * - Refused when a rule is saved: filters and scripts (`?()`, `()`), `@`, `^`, `~`, escapes, negative
 *   indexes (write `[-1:]`), more than one recursive descent, and unions that repeat a member, because
 *   those are the forms whose cost multiplies (`$..*..*` over a deep event is quadratic or worse).
 * - Evaluation visits at most {@link MAX_PATH_VISITS} values per resolution, and at most
 *   {@link MAX_TRIGGER_PATH_VISITS} for all the paths of one trigger attempt together (its conditions
 *   and fact references: {@link withPathBudget}); past either it throws a {@link PathBudgetError},
 *   which fails that one trigger (`CRM_ERR_EVALUATION`, or `CRM_ERR_RENDER` for a fact reference).
 */

/** Most values one path resolution may visit. */
export const MAX_PATH_VISITS = 10_000;
/**
 * Most values all the path resolutions of one trigger attempt may visit together: a rule of many
 * conditions over `$..*` cannot multiply {@link MAX_PATH_VISITS} by its number of conditions.
 */
export const MAX_TRIGGER_PATH_VISITS = 50_000;

/** What a trigger attempt's paths have visited so far (shared by all of them, see {@link withPathBudget}). */
export interface PathBudget {
  pathVisits: number;
}

/** A path resolution went over a visit budget: final, the same resolution again would only spend more. */
export class PathBudgetError extends AutomationError {
  constructor(message: string) {
    super('CRM_ERR_EVALUATION', message);
  }
}

// Path resolution is synchronous, so the budget of the evaluation in progress can live here.
let activePathBudget: PathBudget | undefined;

/** Runs `resolve` (synchronous) with every path resolved inside it charged to `budget` as well. */
export function withPathBudget<T>(budget: PathBudget, resolve: () => T): T {
  const outer = activePathBudget;
  activePathBudget = budget;
  try {
    return resolve();
  } finally {
    activePathBudget = outer;
  }
}

type Step =
  | { kind: 'name'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' }
  | { kind: 'union'; members: Array<string | number> }
  | { kind: 'slice'; start: number | undefined; end: number | undefined; step: number };

interface ParsedStep {
  step: Step;
  /** `..` before the step: apply it to the node and every descendant. */
  descend: boolean;
}

interface ParsedPath {
  steps: ParsedStep[];
  /** Yields an array of matches rather than one value. */
  multi: boolean;
}

export interface PathProblem {
  code: 'invalid_path' | 'path_too_costly';
  message: string;
}

class PathSyntaxError extends Error {
  constructor(
    message: string,
    readonly code: PathProblem['code'] = 'invalid_path',
  ) {
    super(message);
  }
}

const NAME = /^[\p{L}\p{N}_$-]+/u;
const CACHE = new Map<string, ParsedPath | PathSyntaxError>();
const CACHE_LIMIT = 10_000;

function parseBracket(body: string): Step {
  const trimmed = body.trim();
  if (trimmed === '*') return { kind: 'wildcard' };
  if (/^-?\d*:-?\d*(:-?\d*)?$/.test(trimmed)) {
    const [a, b, c] = trimmed.split(':');
    const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
    const step = num(c) ?? 1;
    if (step <= 0) throw new PathSyntaxError('a slice step must be a positive integer');
    return { kind: 'slice', start: num(a), end: num(b), step };
  }
  const members: Array<string | number> = [];
  for (const raw of splitUnion(trimmed)) {
    const part = raw.trim();
    if (/^\d+$/.test(part)) members.push(Number(part));
    else if (/^-\d+$/.test(part)) throw new PathSyntaxError(`negative index ${part} is not supported; use a slice such as [-1:]`);
    else if (/^'[^'\\]*'$/.test(part) || /^"[^"\\]*"$/.test(part)) members.push(part.slice(1, -1));
    else throw new PathSyntaxError(`unsupported JSONPath selector [${body}]${/[?()@]/.test(body) ? ': filter and script expressions are not allowed' : ''}`);
  }
  if (members.length === 1) {
    const only = members[0] as string | number;
    return typeof only === 'number' ? { kind: 'index', index: only } : { kind: 'name', name: only };
  }
  if (new Set(members).size !== members.length) {
    throw new PathSyntaxError('a union must not repeat a member (each repeat multiplies the work)', 'path_too_costly');
  }
  return { kind: 'union', members };
}

/** Splits `'a','b'` on commas outside quotes. */
function splitUnion(body: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === ',') {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** Index of the `]` closing the bracket opened at `open`, skipping quoted text. */
function closingBracket(path: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < path.length; i++) {
    const ch = path[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === ']') {
      return i;
    }
  }
  return -1;
}

function parse(path: string): ParsedPath {
  if (!path.startsWith('$')) throw new PathSyntaxError('JSONPath must start with "$" (e.g. "$.status")');
  const steps: ParsedStep[] = [];
  let descents = 0;
  let i = 1;
  while (i < path.length) {
    let descend = false;
    if (path.startsWith('..', i)) {
      descend = true;
      descents += 1;
      i += 2;
    } else if (path[i] === '.') {
      i += 1;
    } else if (path[i] !== '[') {
      throw new PathSyntaxError(`unexpected ${JSON.stringify(path[i])} at position ${i}`);
    }
    if (path[i] === '[') {
      const close = closingBracket(path, i);
      if (close < 0) throw new PathSyntaxError('unclosed "["');
      steps.push({ step: parseBracket(path.slice(i + 1, close)), descend });
      i = close + 1;
      continue;
    }
    if (path[i] === '*') {
      steps.push({ step: { kind: 'wildcard' }, descend });
      i += 1;
      continue;
    }
    const name = NAME.exec(path.slice(i));
    if (!name) {
      const ch = path[i];
      const why = ch === undefined ? 'the path ends after a dot' : /[?()@^~`]/.test(ch) ? `${JSON.stringify(ch)} (filters, scripts, parent and property-name selectors are not supported)` : `unexpected ${JSON.stringify(ch)}`;
      throw new PathSyntaxError(`invalid JSONPath at position ${i}: ${why}`);
    }
    steps.push({ step: { kind: 'name', name: name[0] }, descend });
    i += name[0].length;
  }
  if (descents > 1) {
    throw new PathSyntaxError('a JSONPath may use recursive descent ("..") once; each further one multiplies the work', 'path_too_costly');
  }
  const multi = steps.some(({ step, descend }) => descend || step.kind === 'wildcard' || step.kind === 'union' || step.kind === 'slice');
  return { steps, multi };
}

function parsed(path: string): ParsedPath {
  let entry = CACHE.get(path);
  if (entry === undefined) {
    try {
      entry = parse(path);
    } catch (error) {
      entry = error instanceof PathSyntaxError ? error : new PathSyntaxError(String(error));
    }
    if (CACHE.size >= CACHE_LIMIT) CACHE.clear();
    CACHE.set(path, entry);
  }
  if (entry instanceof PathSyntaxError) throw entry;
  return entry;
}

const own = (value: object, key: string | number) => Object.prototype.hasOwnProperty.call(value, key);

/** Counts visits against the budget of one resolution. */
class Visits {
  private count = 0;
  constructor(private readonly path: string) {}
  tick(n = 1): void {
    this.count += n;
    if (this.count > MAX_PATH_VISITS) {
      throw new PathBudgetError(`JSONPath ${this.path.slice(0, 100)} visited more than ${MAX_PATH_VISITS} values`);
    }
    const shared = activePathBudget;
    if (shared && (shared.pathVisits += n) > MAX_TRIGGER_PATH_VISITS) {
      throw new PathBudgetError(`the JSONPaths of this trigger visited more than ${MAX_TRIGGER_PATH_VISITS} values together (JSONPath ${this.path.slice(0, 100)} was the last)`);
    }
  }
}

function children(node: unknown, visits: Visits): unknown[] {
  if (typeof node !== 'object' || node === null) return [];
  const values = Array.isArray(node) ? node : Object.values(node);
  visits.tick(values.length);
  return values;
}

function applyStep(node: unknown, step: Step, out: unknown[], visits: Visits): void {
  if (typeof node !== 'object' || node === null) return;
  switch (step.kind) {
    case 'name':
    case 'index': {
      const key = step.kind === 'name' ? step.name : step.index;
      visits.tick();
      if (own(node, key)) out.push((node as Record<string | number, unknown>)[key]);
      return;
    }
    case 'wildcard':
      for (const child of children(node, visits)) out.push(child);
      return;
    case 'union':
      for (const key of step.members) {
        visits.tick();
        if (own(node, key)) out.push((node as Record<string | number, unknown>)[key]);
      }
      return;
    case 'slice': {
      if (!Array.isArray(node)) return;
      const len = node.length;
      const clamp = (n: number) => (n < 0 ? Math.max(0, len + n) : Math.min(len, n));
      const start = step.start === undefined ? 0 : clamp(step.start);
      const end = step.end === undefined ? len : clamp(step.end);
      for (let i = start; i < end; i += step.step) {
        visits.tick();
        out.push(node[i]);
      }
      return;
    }
  }
}

/** Applies `step` to `node` and to every descendant, in document order (node first). */
function applyDescending(node: unknown, step: Step, out: unknown[], visits: Visits): void {
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const current = stack.pop();
    applyStep(current, step, out, visits);
    const kids = children(current, visits);
    for (let i = kids.length - 1; i >= 0; i--) {
      const kid = kids[i];
      if (typeof kid === 'object' && kid !== null) stack.push(kid);
    }
  }
}

/**
 * Reads `path` from `value` (see the module comment for the dialect). Follows own properties only,
 * so `$.__proto__` or `$.constructor` never reach a prototype. Throws a `CRM_ERR_EVALUATION` error
 * when the path is not valid or its evaluation exceeds the visit budget.
 */
export function resolvePath(value: unknown, path: string | undefined): unknown {
  if (path === undefined || path === '' || path === '$') return value;
  let compiled: ParsedPath;
  try {
    compiled = parsed(path);
  } catch (error) {
    throw new AutomationError('CRM_ERR_EVALUATION', `invalid JSONPath ${JSON.stringify(path.slice(0, 100))}: ${(error as Error).message}`);
  }
  if (!compiled.multi) {
    let current: unknown = value;
    for (const { step } of compiled.steps) {
      if (typeof current !== 'object' || current === null) return undefined;
      const key = step.kind === 'name' ? step.name : step.kind === 'index' ? step.index : undefined;
      if (key === undefined || !own(current, key)) return undefined;
      current = (current as Record<string | number, unknown>)[key];
    }
    return current;
  }
  const visits = new Visits(path);
  let nodes: unknown[] = [value];
  for (const { step, descend } of compiled.steps) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (descend) applyDescending(node, step, next, visits);
      else applyStep(node, step, next, visits);
    }
    nodes = next;
    if (nodes.length === 0) return undefined;
  }
  return nodes;
}

/** Save-time check of a rule's JSONPath: null when accepted, else the problem. */
export function checkJsonPath(path: string): PathProblem | null {
  try {
    parsed(path);
    return null;
  } catch (error) {
    if (error instanceof PathSyntaxError) return { code: error.code, message: error.message };
    return { code: 'invalid_path', message: String(error) };
  }
}

/**
 * Save-time check of a path that must name exactly one value (a rule's entity key): the rules of
 * {@link checkJsonPath}, and no wildcard, recursive descent, union or slice, and not `$` itself.
 */
export function checkSingleValuePath(path: string): PathProblem | null {
  const problem = checkJsonPath(path);
  if (problem) return problem;
  const compiled = parsed(path);
  if (compiled.multi) return { code: 'invalid_path', message: 'must name one value: wildcards, recursive descent (".."), unions and slices are not allowed here' };
  if (compiled.steps.length === 0) return { code: 'invalid_path', message: 'must name a field of the payload (e.g. "$.job.id"), not the whole payload' };
  return null;
}
