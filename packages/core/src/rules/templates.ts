// One file: the save-time checks and the render-time budget guard the same Handlebars features; a
// helper allowed in one place and not the other would be a hole, so both live here.
import Handlebars from 'handlebars';
import { AutomationError } from '../errors.js';

/**
 * Templates of rules (messages, subjects, webhook payload strings and URLs) are tenant input: they
 * run in one isolated Handlebars environment that cannot register helpers or partials, cannot reach
 * prototype properties or methods, has no helper with side effects (`log` is removed), and renders
 * under a budget, so a template of a few hundred bytes cannot block the event loop:
 *
 * - at save time: block nesting ({@link TEMPLATE_LIMITS}`.maxBlockDepth`), `{{else if}}` chains
 *   (`maxElseChain`), only the block helpers `if`, `unless`, `each` and `with` with exactly one
 *   argument, `lookup` with two, no partials, decorators, sections over plain values (`{{#items}}`),
 *   or `log`/`helperMissing`/`blockHelperMissing`;
 * - at render time, always, per trigger attempt (every template and fact reference of all its actions
 *   together): at most `maxIterations` loop iterations, `maxLoopSteps` steps of work inside loops (an
 *   iteration costs one step plus the expressions of the loop's body, {@link BLOCK_STEPS} for a
 *   block), `maxOutputChars` characters of output per action and `maxTriggerOutputChars` for all
 *   actions. Past a limit rendering stops at once with a `CRM_ERR_RENDER` error. The budget is the
 *   trigger's, not each action's: a rule of many actions cannot multiply it.
 */
export const TEMPLATE_LIMITS = {
  /** Longest template source, in characters. */
  maxLength: 10_000,
  /** Deepest nesting of `{{#if}}`, `{{#each}}`, `{{#with}}` and `{{#unless}}` blocks. */
  maxBlockDepth: 6,
  /** Deepest nesting of `(lookup ...)` subexpressions. */
  maxSubexpressionDepth: 4,
  /**
   * Most `{{else if x}}` (any `{{else helper ...}}`) links in one block's chain. Handlebars nests
   * each link inside the one before, and its parser slows down with the square of a chain's length.
   */
  maxElseChain: 32,
  /** Loop iterations (`{{#each}}`) in one trigger attempt, all its actions' templates together. */
  maxIterations: 10_000,
  /**
   * Work done inside loops in one trigger attempt, all its actions' templates together: each iteration costs
   * one step plus one per expression of the loop's body and {@link BLOCK_STEPS} per block in it
   * (nested loops charge their own iterations). Iterations alone do not bound the work: a body of a
   * few hundred expressions repeated 10,000 times blocks the event loop for seconds.
   */
  maxLoopSteps: 50_000,
  /**
   * Characters one rendered action produces, all its templates and fact references together (loops
   * are charged as they run, a fact reference's value at about the size of its JSON).
   */
  maxOutputChars: 256 * 1024,
  /** Characters all the actions of one trigger attempt produce together (as `maxOutputChars` counts them). */
  maxTriggerOutputChars: 1024 * 1024,
} as const;

/**
 * Steps one block (`{{#if}}`, `{{#unless}}`, `{{#with}}`, `{{#each}}`) costs in a loop body: a block
 * helper call costs Handlebars several times what a plain `{{value}}` costs (an `{{#each}}` call about ten).
 */
export const BLOCK_STEPS = 8;

/** @deprecated use `TEMPLATE_LIMITS.maxLength`. */
export const MAX_TEMPLATE_LENGTH = TEMPLATE_LIMITS.maxLength;

export type RenderTemplate = (context: Record<string, unknown>) => string;

export interface TemplateProblem {
  /** `template_syntax` (does not parse, or uses what cannot render), `template_too_deep` or `too_large`. */
  code: string;
  message: string;
}

const env = Handlebars.create();

/** The block helpers a template may use, and the one inline helper. */
const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with']);
const INLINE_HELPERS = new Map([['lookup', 2]]);
/** Names of built-in helpers that must never be invoked from a template. */
const FORBIDDEN_NAMES = new Set(['log', 'helperMissing', 'blockHelperMissing']);

const COMPILE_OPTIONS = {
  // Message bodies are plain text (SMS, email text, JSON strings); HTML escaping would corrupt them.
  noEscape: true,
  // Only the helpers above; an unknown helper is a save-time error.
  knownHelpersOnly: true,
  knownHelpers: { log: false, helperMissing: false, blockHelperMissing: false },
  strict: false,
} as const;

const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowedProtoProperties: {},
  allowedProtoMethods: {},
} as const;

/** The limits a {@link RenderBudget} enforces (a test may pass smaller ones). */
export interface RenderLimits {
  maxIterations: number;
  maxLoopSteps: number;
  maxOutputChars: number;
  /** Defaults to `maxOutputChars` times four, as in {@link TEMPLATE_LIMITS}. */
  maxTriggerOutputChars?: number;
}

/**
 * What one trigger attempt may still spend rendering; shared by all templates and fact references of
 * all its actions ({@link startAction} between actions: output is bounded per action and in total).
 */
export class RenderBudget {
  iterations = 0;
  steps = 0;
  /** Characters charged so far: each loop body as it returns, each template as it returns. */
  output = 0;
  /** `output` when the action being rendered started. */
  private actionStart = 0;
  private readonly maxTriggerOutput: number;
  /**
   * One entry per loop body or template being rendered: the characters already charged by the loop
   * bodies inside it, which its own output contains (charged once, not at every level).
   */
  private readonly open: number[] = [];
  constructor(private readonly limits: RenderLimits = TEMPLATE_LIMITS) {
    this.maxTriggerOutput = limits.maxTriggerOutputChars ?? limits.maxOutputChars * 4;
  }

  /** Starts the next action: its output is bounded on its own, the loops and the total stay shared. */
  startAction(): void {
    this.actionStart = this.output;
  }

  /** Throws when the action's output or the trigger's passed its limit; `what` names what produced it. */
  private checkSpent(what: string): void {
    if (this.output - this.actionStart > this.limits.maxOutputChars) {
      throw new AutomationError('CRM_ERR_RENDER', `${what} of this action took more than ${this.limits.maxOutputChars} characters together; rendering was stopped`);
    }
    if (this.output > this.maxTriggerOutput) {
      throw new AutomationError('CRM_ERR_RENDER', `${what} of this trigger's actions took more than ${this.maxTriggerOutput} characters together; rendering was stopped`);
    }
  }

  /** Charges one loop iteration whose body costs `steps` (one for the iteration itself included). */
  iteration(steps = 1): void {
    this.iterations += 1;
    this.steps += steps;
    if (this.iterations > this.limits.maxIterations) {
      throw new AutomationError('CRM_ERR_RENDER', `template loops ran more than ${this.limits.maxIterations} iterations; rendering was stopped`);
    }
    if (this.steps > this.limits.maxLoopSteps) {
      throw new AutomationError('CRM_ERR_RENDER', `template loops did more than ${this.limits.maxLoopSteps} steps of work (iterations times the expressions of their bodies); rendering was stopped`);
    }
  }

  /** Runs one iteration's body and charges what it produced. */
  loopBody(body: (context: unknown, options?: unknown) => string, context: unknown, options: unknown): string {
    this.open.push(0);
    let output: string;
    let inner = 0;
    try {
      output = body(context, options);
    } finally {
      inner = this.open.pop() ?? 0;
    }
    this.charge(output.length, inner);
    this.checkSpent('the template loops');
    return output;
  }

  /** Renders one template of the action and charges its output. */
  template(render: () => string): string {
    this.open.push(0);
    let output: string;
    let inner = 0;
    try {
      output = render();
    } finally {
      inner = this.open.pop() ?? 0;
    }
    this.checkOutput(output);
    this.charge(output.length, inner);
    this.checkSpent('the templates');
    return output;
  }

  /** Charges the output of a template without loops (rendered already): {@link template} without a closure. */
  plain(output: string): string {
    this.checkOutput(output);
    this.charge(output.length, 0);
    this.checkSpent('the templates');
    return output;
  }

  /**
   * Charges a value placed into the action as it is (a fact reference's value): about the characters
   * its JSON takes. A value referenced many times is measured once and charged each time.
   */
  value(value: unknown): void {
    if (typeof value !== 'object' || value === null) {
      this.output += typeof value === 'string' ? value.length + 2 : 8;
    } else {
      const sizes = (this.sizes ??= new WeakMap());
      let size = sizes.get(value);
      if (size === undefined) sizes.set(value, (size = jsonSizeOf(value)));
      this.output += size;
    }
    this.checkSpent('the values (templates and fact references)');
  }
  // Made on the first object charged: most actions place strings only.
  private sizes: WeakMap<object, number> | undefined;

  /** Charges `length` characters, less the `inner` ones loop bodies inside already charged. */
  private charge(length: number, inner: number): void {
    const top = this.open.length - 1;
    if (top >= 0) this.open[top] = (this.open[top] ?? 0) + length;
    this.output += Math.max(0, length - inner);
  }

  /** Checks the output of a template rendered on its own, outside any action's budget. */
  checkOutput(output: string): string {
    if (output.length > this.limits.maxOutputChars) {
      throw new AutomationError('CRM_ERR_RENDER', `a template rendered ${output.length} characters; the limit is ${this.limits.maxOutputChars}`);
    }
    return output;
  }
}

/** About the characters of `value`'s JSON, walked without recursion. */
function jsonSizeOf(root: object): number {
  let size = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') size += node.length + 2;
    else if (typeof node !== 'object' || node === null) size += 8;
    else if (Array.isArray(node)) {
      size += 2 + node.length;
      for (const item of node) stack.push(item);
    } else {
      size += 2;
      for (const [key, item] of Object.entries(node)) {
        size += key.length + 4;
        stack.push(item);
      }
    }
  }
  return size;
}

/**
 * Charges a value an action's params take as it is (a fact reference's value) to the budget of the
 * action being rendered, if any, and returns it: fact references repeated in a webhook payload would
 * otherwise multiply an event's size without any template to count them.
 */
export function chargeRenderedValue<T>(value: T): T {
  activeBudget?.value(value);
  return value;
}

// Rendering is synchronous, so the budget of the render in progress can live here.
let activeBudget: RenderBudget | undefined;

/** Runs `render` (synchronous) with every template rendered inside it drawing on `budget`. */
export function withRenderBudget<T>(budget: RenderBudget, render: () => T): T {
  const outer = activeBudget;
  activeBudget = budget;
  try {
    return render();
  } finally {
    activeBudget = outer;
  }
}

type HelperOptions = { fn: (context: unknown, options?: unknown) => string; inverse: (context: unknown, options?: unknown) => string; loc?: unknown } & Record<string, unknown>;
type Helper = (this: unknown, ...args: unknown[]) => unknown;

/** Steps of one iteration of each loop body of a template, by the loop's position in the source. */
interface LoopSteps {
  byLocation: Map<number, number>;
  /** The costliest body: charged for a loop whose position is not known. */
  most: number;
}

// The loop bodies of the template being rendered (rendering is synchronous).
let activeLoopSteps: LoopSteps | undefined;

interface SourcePosition {
  line: number;
  column: number;
}
/** A block's start in its template (line and column below 2^20 in any template within the length limit). */
function locationKey(loc: unknown): number | undefined {
  const start = typeof loc === 'object' && loc !== null ? (loc as { start?: Partial<SourcePosition> }).start : undefined;
  return start && typeof start.line === 'number' && typeof start.column === 'number' ? start.line * 1_048_576 + start.column : undefined;
}

/** Steps one iteration of the loop whose helper got `options` costs: one, plus its body's expressions. */
function iterationSteps(options: HelperOptions): number {
  const steps = activeLoopSteps;
  if (!steps) return 1;
  const key = locationKey(options.loc);
  return 1 + ((key === undefined ? undefined : steps.byLocation.get(key)) ?? steps.most);
}

/** Wraps a looping helper so each iteration, its work and its output are charged to the active budget. */
function budgeted(original: Helper): Helper {
  return function (this: unknown, ...args: unknown[]) {
    const options = args[args.length - 1] as HelperOptions;
    const budget = activeBudget;
    if (budget && typeof options?.fn === 'function') {
      const fn = options.fn;
      const steps = iterationSteps(options);
      options.fn = (context, opts) => {
        budget.iteration(steps);
        return budget.loopBody(fn, context, opts);
      };
    }
    return original.apply(this, args);
  };
}

/** Blocks whose body runs at most once per run of the block. */
const ONCE_BLOCKS = new Set(['if', 'unless', 'with']);

/**
 * The steps of every loop body of a parsed template (see {@link TEMPLATE_LIMITS}`.maxLoopSteps`):
 * one per expression and subexpression, {@link BLOCK_STEPS} per block, with the bodies of `if`,
 * `unless` and `with` counted in full (they run at most once per run of what holds them) and the body
 * of a loop (`each`, or a section over a value) counted once per iteration, by the loop itself.
 */
function loopSteps(ast: AstNode): LoopSteps {
  const result: LoopSteps = { byLocation: new Map(), most: 0 };
  const argumentSteps = (node: AstNode): number => {
    let steps = 0;
    const params = Array.isArray(node['params']) ? (node['params'] as unknown[]) : [];
    const hash = node['hash'];
    const values = isNode(hash) && Array.isArray(hash['pairs']) ? (hash['pairs'] as Array<{ value?: unknown }>).map((pair) => pair.value) : [];
    for (const value of [...params, ...values]) if (isNode(value) && value.type === 'SubExpression') steps += 1 + argumentSteps(value);
    return steps;
  };
  const programSteps = (program: unknown): number => {
    if (!isNode(program) || !Array.isArray(program['body'])) return 0;
    let steps = 0;
    for (const statement of program['body'] as unknown[]) {
      if (!isNode(statement)) continue;
      switch (statement.type) {
        case 'MustacheStatement':
          steps += 1 + argumentSteps(statement);
          break;
        case 'BlockStatement': {
          steps += BLOCK_STEPS + argumentSteps(statement) + programSteps(statement['inverse']);
          const body = programSteps(statement['program']);
          const name = pathName(statement['path']);
          if (name !== undefined && ONCE_BLOCKS.has(name)) {
            steps += body;
          } else {
            const key = locationKey(statement['loc']);
            if (key !== undefined) result.byLocation.set(key, body);
            result.most = Math.max(result.most, body);
          }
          break;
        }
        case 'PartialStatement':
        case 'PartialBlockStatement':
        case 'Decorator':
        case 'DecoratorBlock':
          steps += BLOCK_STEPS + programSteps(statement['program']);
          break;
        default:
          break;
      }
    }
    return steps;
  };
  programSteps(ast);
  return result;
}

const builtIn = env.helpers as Record<string, Helper>;
env.registerHelper('each', budgeted(builtIn['each'] as Helper));
// Sections over arrays (`{{#items}}`) iterate through `each`; over objects they render once.
env.registerHelper('blockHelperMissing', budgeted(builtIn['blockHelperMissing'] as Helper));
env.unregisterHelper('log');

/** What a template's source costs to parse, found without parsing (the parser is what it slows). */
interface SourceShape {
  /** An upper bound of block nesting. */
  depth: number;
  /** The longest `{{else helper ...}}` chain of one block. */
  chain: number;
}

const isBlank = (ch: string | undefined): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';

function scanSource(source: string): SourceShape {
  // One chain counter per open block; the bottom one stands for text outside any block.
  const chains: number[] = [0];
  let max = 0;
  let chain = 0;
  let i = source.indexOf('{{');
  while (i >= 0) {
    if (source.startsWith('{{!--', i)) {
      const end = source.indexOf('--}}', i + 5);
      if (end < 0) break;
      i = source.indexOf('{{', end + 4);
      continue;
    }
    let j = i + 2;
    while (source[j] === '{' || source[j] === '~' || isBlank(source[j])) j++;
    const ch = source[j];
    if (ch === '#' || (ch === '^' && !/^\^\s*~?}}/.test(source.slice(j, j + 8)))) {
      chains.push(0);
      max = Math.max(max, chains.length - 1);
    } else if (ch === '/') {
      if (chains.length > 1) chains.pop();
    } else if (source.startsWith('else', j) && !/^else\s*~?}}/.test(source.slice(j, j + 8))) {
      const links = (chains[chains.length - 1] ?? 0) + 1;
      chains[chains.length - 1] = links;
      chain = Math.max(chain, links);
    }
    i = source.indexOf('{{', j);
  }
  return { depth: max, chain };
}

interface AstNode {
  type: string;
  [key: string]: unknown;
}

const isNode = (value: unknown): value is AstNode => typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';

function pathName(node: unknown): string | undefined {
  if (!isNode(node) || node.type !== 'PathExpression') return undefined;
  const original = node['original'];
  return typeof original === 'string' ? original : undefined;
}

function helperCall(node: AstNode): { params: unknown[]; hash: unknown } {
  const params = Array.isArray(node['params']) ? (node['params'] as unknown[]) : [];
  return { params, hash: node['hash'] };
}

function hashKeys(hash: unknown): string[] {
  if (!isNode(hash) || !Array.isArray(hash['pairs'])) return [];
  return (hash['pairs'] as Array<{ key?: unknown }>).map((p) => String(p.key));
}

/** Walks the AST (iteratively) and returns the first reason this template would fail or cost too much. */
function checkAst(root: AstNode, maxBlockDepth: number): TemplateProblem | null {
  const stack: Array<{ node: unknown; blocks: number; subexpressions: number }> = [{ node: root, blocks: 0, subexpressions: 0 }];
  while (stack.length > 0) {
    const { node, blocks, subexpressions } = stack.pop() as { node: unknown; blocks: number; subexpressions: number };
    if (!isNode(node)) continue;
    switch (node.type) {
      case 'PartialStatement':
      case 'PartialBlockStatement':
        return { code: 'template_syntax', message: 'partials ({{> name}}) are not allowed in templates' };
      case 'Decorator':
      case 'DecoratorBlock':
        return { code: 'template_syntax', message: 'decorators and inline partials ({{* ...}}) are not allowed in templates' };
      case 'Program': {
        const body = Array.isArray(node['body']) ? (node['body'] as unknown[]) : [];
        for (let i = body.length - 1; i >= 0; i--) stack.push({ node: body[i], blocks, subexpressions });
        continue;
      }
      case 'BlockStatement': {
        const name = pathName(node['path']);
        const { params, hash } = helperCall(node);
        if (name === undefined || !BLOCK_HELPERS.has(name)) {
          const shown = name ?? 'a literal';
          return {
            code: 'template_syntax',
            message: `{{#${shown}}} is not a block helper; use {{#if ${shown}}}, {{#each ${shown}}} or {{#with ${shown}}} (blocks may use if, unless, each and with)`,
          };
        }
        if (params.length !== 1) {
          return { code: 'template_syntax', message: `{{#${name}}} needs exactly one argument, e.g. {{#${name} job.items}}; it has ${params.length}` };
        }
        const extra = hashKeys(hash).filter((k) => !(k === 'includeZero' && (name === 'if' || name === 'unless')));
        if (extra.length > 0) return { code: 'template_syntax', message: `{{#${name}}} does not take ${extra.map((k) => `${k}=`).join(', ')}` };
        const depth = blocks + 1;
        if (depth > maxBlockDepth) {
          return { code: 'template_too_deep', message: `blocks nest more than ${maxBlockDepth} levels` };
        }
        const inverse = node['inverse'];
        // `{{else if x}}` is a chain, not a nesting: its block is charged at the same depth.
        const chained = isNode(inverse) && inverse['chained'] === true;
        stack.push({ node: node['program'], blocks: depth, subexpressions });
        stack.push({ node: inverse, blocks: chained ? blocks : depth, subexpressions });
        for (const p of params) stack.push({ node: p, blocks, subexpressions });
        continue;
      }
      case 'MustacheStatement':
      case 'SubExpression': {
        const name = pathName(node['path']);
        const { params, hash } = helperCall(node);
        const isCall = params.length > 0 || hashKeys(hash).length > 0 || node.type === 'SubExpression';
        if (name !== undefined && FORBIDDEN_NAMES.has(name)) {
          return { code: 'template_syntax', message: `the ${name} helper is not available in templates` };
        }
        if (!isCall) {
          if (name !== undefined && (BLOCK_HELPERS.has(name) || INLINE_HELPERS.has(name))) {
            return { code: 'template_syntax', message: `{{${name}}} needs arguments${BLOCK_HELPERS.has(name) ? ` and a block: {{#${name} value}}...{{/${name}}}` : ''}` };
          }
          continue;
        }
        const arity = name === undefined ? undefined : INLINE_HELPERS.get(name);
        if (arity === undefined) {
          const shown = name ?? 'a literal';
          return {
            code: 'template_syntax',
            message: BLOCK_HELPERS.has(shown)
              ? `{{${shown}}} is a block helper; write {{#${shown} value}}...{{/${shown}}}`
              : `unknown helper "${shown}"; templates may call lookup and the block helpers if, unless, each and with`,
          };
        }
        if (params.length !== arity || hashKeys(hash).length > 0) {
          return { code: 'template_syntax', message: `${name} needs exactly ${arity} arguments, e.g. {{lookup job "number"}}` };
        }
        const depth = node.type === 'SubExpression' ? subexpressions + 1 : subexpressions;
        if (depth > TEMPLATE_LIMITS.maxSubexpressionDepth) {
          return { code: 'template_too_deep', message: `subexpressions nest more than ${TEMPLATE_LIMITS.maxSubexpressionDepth} levels` };
        }
        for (const p of params) stack.push({ node: p, blocks, subexpressions: depth });
        continue;
      }
      default:
        continue;
    }
  }
  return null;
}

function hasTemplateSyntax(source: string): boolean {
  return source.includes('{{');
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.slice(0, 300);
}

/** Parses a template; throws with Handlebars' message when it does not parse. */
export function parseTemplate(source: string): AstNode {
  return env.parse(source) as unknown as AstNode;
}

/**
 * Save-time check of a template: null when it compiles, stays within the save-time limits and uses
 * only what renders, else the first problem. Cheap for any accepted size: block depth and `{{else}}`
 * chains are bounded before the template is parsed.
 */
export function checkTemplateSource(source: string, maxLength: number = TEMPLATE_LIMITS.maxLength): TemplateProblem | null {
  if (source.length > maxLength) return { code: 'too_large', message: `template is longer than ${maxLength} characters` };
  if (!hasTemplateSyntax(source)) return null;
  const shape = scanSource(source);
  if (shape.depth > TEMPLATE_LIMITS.maxBlockDepth) {
    return { code: 'template_too_deep', message: `blocks nest more than ${TEMPLATE_LIMITS.maxBlockDepth} levels` };
  }
  if (shape.chain > TEMPLATE_LIMITS.maxElseChain) {
    return { code: 'template_too_deep', message: `an {{else if ...}} chain has more than ${TEMPLATE_LIMITS.maxElseChain} links; Handlebars nests each link in the one before` };
  }
  let ast: AstNode;
  try {
    ast = parseTemplate(source);
  } catch (error) {
    return { code: 'template_syntax', message: `template does not compile: ${firstLine((error as Error).message)}` };
  }
  const problem = checkAst(ast, TEMPLATE_LIMITS.maxBlockDepth);
  if (problem) return problem;
  try {
    // The compile step that raises Handlebars' compile-time errors, on the AST already parsed; the
    // JavaScript it would generate is not needed to know the template renders.
    compileAst(ast);
    return null;
  } catch (error) {
    return { code: 'template_syntax', message: `template does not compile: ${firstLine((error as Error).message)}` };
  }
}

type AstCompiler = { compile(ast: unknown, options: unknown): unknown };
const HandlebarsCompiler = (env as unknown as { Compiler?: new () => AstCompiler }).Compiler;
// The options the compiler step sees after `precompile` has filled in its defaults.
const AST_COMPILE_OPTIONS = {
  ...COMPILE_OPTIONS,
  knownHelpers: Object.assign(Object.create(null) as Record<string, boolean>, { helperMissing: true, blockHelperMissing: true, each: true, if: true, unless: true, with: true, log: true, lookup: true }, COMPILE_OPTIONS.knownHelpers),
};

function compileAst(ast: AstNode): void {
  if (HandlebarsCompiler) new HandlebarsCompiler().compile(ast, AST_COMPILE_OPTIONS);
  else env.precompile(ast as unknown as string, COMPILE_OPTIONS);
}

const CHECK_CACHE = new Map<string, TemplateProblem | null>();
const CHECK_CACHE_ENTRIES = 2_000;

/**
 * {@link checkTemplateSource} with its answers remembered by source (a UI re-validates the same
 * templates on every keystroke; a rule often repeats one template across actions).
 */
export function checkTemplateCached(source: string, maxLength: number = TEMPLATE_LIMITS.maxLength): TemplateProblem | null {
  if (maxLength !== TEMPLATE_LIMITS.maxLength || source.length > maxLength) return checkTemplateSource(source, maxLength);
  const hit = CHECK_CACHE.get(source);
  if (hit !== undefined) return hit;
  const problem = checkTemplateSource(source, maxLength);
  if (CHECK_CACHE.size >= CHECK_CACHE_ENTRIES) CHECK_CACHE.delete(CHECK_CACHE.keys().next().value as string);
  CHECK_CACHE.set(source, problem);
  return problem;
}

/** Returns null when `source` is an acceptable template, else a message saying why not. */
export function checkTemplate(source: string): string | null {
  return checkTemplateSource(source)?.message ?? null;
}

/**
 * A template of text and plain references (`{{job.client.name}}`) only, as what Handlebars
 * concatenates: text, or the segments of a path looked up from the context.
 */
type PlainPart = string | readonly string[];

/** Path segments rendered without Handlebars: identifiers only (no `this`, `..`, `@data`, `[literal]`, numbers). */
const PLAIN_SEGMENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Single-segment names Handlebars may take for a helper rather than a lookup. */
const HELPER_NAMES: ReadonlySet<string> = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log', 'helperMissing', 'blockHelperMissing']);

/**
 * The parts of `source` when it is text, comments and plain references only, else undefined (it then
 * renders through Handlebars). The AST is Handlebars' own parse, whitespace control applied, which is
 * what its compiler turns into code.
 */
export function plainTemplateParts(source: string): PlainPart[] | undefined {
  let ast: AstNode;
  try {
    ast = parseTemplate(source);
  } catch {
    // Handlebars reports it when the template is rendered, as it always has.
    return undefined;
  }
  const body = ast['body'];
  if (ast.type !== 'Program' || !Array.isArray(body)) return undefined;
  const parts: PlainPart[] = [];
  for (const node of body as unknown[]) {
    if (!isNode(node)) return undefined;
    if (node.type === 'CommentStatement') continue;
    if (node.type === 'ContentStatement') {
      const text = node['value'];
      if (typeof text !== 'string') return undefined;
      // Handlebars appends no empty text: `{{a}}{{b}}` adds the two values themselves.
      if (text === '') continue;
      const last = parts[parts.length - 1];
      if (typeof last === 'string') parts[parts.length - 1] = last + text;
      else parts.push(text);
      continue;
    }
    if (node.type !== 'MustacheStatement') return undefined;
    const params = node['params'];
    const path = node['path'];
    if ((Array.isArray(params) && params.length > 0) || !Array.isArray(params) || node['hash'] != null || !isNode(path) || path.type !== 'PathExpression') return undefined;
    const segments = path['parts'];
    if (path['data'] !== false || path['depth'] !== 0 || !Array.isArray(segments) || segments.length === 0) return undefined;
    if (!segments.every((segment): segment is string => typeof segment === 'string' && PLAIN_SEGMENT.test(segment))) return undefined;
    if (path['original'] !== segments.join('.') || (segments.length === 1 && HELPER_NAMES.has(segments[0] as string))) return undefined;
    parts.push(segments);
  }
  return parts;
}

const hasOwn = (object: unknown, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/**
 * Handlebars' `lookupProperty` under {@link RUNTIME_OPTIONS} (no prototype property or method is
 * allowed): an own property, except a prototype's own `constructor`; nothing inherited.
 */
function lookupOwn(parent: unknown, name: string): unknown {
  const result = (parent as Record<string, unknown>)[name];
  if (result == null) return result;
  if (hasOwn(parent, name) && !(name === 'constructor' && typeof result === 'function' && parent === (result as { prototype?: unknown }).prototype)) return result;
  return undefined;
}

/**
 * What Handlebars' generated code computes for plain parts: each path looked up segment by segment
 * while the value is not null or undefined, a function value called on the context (its `lambda`),
 * null and undefined as `''`, all joined with `+` from the first part on and made a string at the
 * end. With `+`, not a template literal: Handlebars adds two adjacent numbers (`{{a}}{{b}}`).
 */
function renderPlain(parts: readonly PlainPart[], context: unknown): string {
  let out: unknown = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as PlainPart;
    let value: unknown;
    if (typeof part === 'string') value = part;
    else {
      let current: unknown = context;
      for (let s = 0; s < part.length && current != null; s++) current = lookupOwn(current, part[s] as string);
      if (typeof current === 'function') current = (current as (this: unknown) => unknown).call(context);
      value = current != null ? current : '';
    }
    // The casts only let TypeScript accept `+` on unknown values; the operator is the point.
    out = i === 0 ? value : (out as string) + (value as string);
  }
  return '' + (out as string);
}

/** The budget a template rendered on its own checks its output against (it has no loops to charge). */
const STANDALONE_BUDGET = new RenderBudget();

/** A template's render-time failure as the typed error; a budget's own error passes as it is. */
function renderFailure(error: unknown): AutomationError {
  // Handlebars' own runtime errors, and V8's "Invalid string length", become typed failures.
  if (error instanceof AutomationError) return error;
  return new AutomationError('CRM_ERR_RENDER', `template failed to render: ${firstLine(error instanceof Error ? error.message : String(error))}`, { cause: error });
}

/**
 * Compiles once; the returned function renders many times, within the budget of the action being
 * rendered ({@link withRenderBudget}) or, called on its own, within a fresh budget. Plain strings cost
 * nothing; text with plain references (`{{job.number}}`) renders without Handlebars' per-render
 * setup (helpers merged, access control built), with the same output, errors and output limit
 * (`test/plain-templates.differential.test.ts` holds the two to it).
 */
export function compileTemplate(source: string): RenderTemplate {
  return compileTemplateRenderer(source).render;
}

/** {@link compileTemplate}, saying whether the template renders through Handlebars (and so may loop). */
export function compileTemplateRenderer(source: string): { render: RenderTemplate; handlebars: boolean } {
  if (!hasTemplateSyntax(source)) return { render: () => source, handlebars: false };
  const plain = plainTemplateParts(source);
  if (!plain) return { render: compileWithHandlebars(source), handlebars: true };
  return {
    handlebars: false,
    render: (context) => {
      let output: string;
      try {
        output = renderPlain(plain, context);
      } catch (error) {
        throw renderFailure(error);
      }
      return activeBudget ? activeBudget.plain(output) : STANDALONE_BUDGET.checkOutput(output);
    },
  };
}

/** {@link compileTemplate} through Handlebars, whatever the template: the reference of the plain path. */
export function compileWithHandlebars(source: string): RenderTemplate {
  // Parsed and compiled on first render, as Handlebars compiles: a template that does not parse
  // fails its renders (CRM_ERR_RENDER), not the compilation of the rule holding it.
  let compiled: { template: (context: unknown, options: unknown) => string; steps: LoopSteps } | undefined;
  const prepare = () => {
    // A template stored without the save-time check (an older rule, a rule source) still cannot
    // spend the parser's quadratic time on nesting and chains: refused before it is parsed.
    const shape = scanSource(source);
    if (shape.depth > TEMPLATE_LIMITS.maxBlockDepth || shape.chain > TEMPLATE_LIMITS.maxElseChain) {
      throw new AutomationError('CRM_ERR_RENDER', `template nests blocks ${shape.depth} levels or chains {{else if}} ${shape.chain} links; the limits are ${TEMPLATE_LIMITS.maxBlockDepth} and ${TEMPLATE_LIMITS.maxElseChain}`);
    }
    const ast = env.parseWithoutProcessing(source) as unknown as AstNode;
    const steps = loopSteps(ast);
    return { template: env.compile(ast as unknown as string, COMPILE_OPTIONS) as (context: unknown, options: unknown) => string, steps };
  };
  return (context) => {
    const budget = activeBudget ?? new RenderBudget();
    const run = () => {
      const outerSteps = activeLoopSteps;
      try {
        compiled ??= prepare();
        const { template, steps } = compiled;
        activeLoopSteps = steps;
        return budget.template(() => template(context, RUNTIME_OPTIONS));
      } catch (error) {
        throw renderFailure(error);
      } finally {
        activeLoopSteps = outerSteps;
      }
    };
    return activeBudget ? run() : withRenderBudget(budget, run);
  };
}
