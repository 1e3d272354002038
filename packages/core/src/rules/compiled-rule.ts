// One file: a rule version's conditions (compiled, with json-rules-engine as reference and fallback)
// and its actions' renderers are built together from one rule into the one object the fire path holds.
import { Almanac, Engine } from 'json-rules-engine';
import { compileConditions, type CompiledConditions, type FallbackCode } from './condition-compiler.js';
import { AutomationError } from '../errors.js';
import type { MessageCategory } from '../policy/contact-policy.js';
import type { ConditionTrace } from '../scheduling/trigger.js';
import { PathBudgetError, resolvePath, withPathBudget, type PathBudget } from './json-path.js';
import { pathKeys } from './path-accessor.js';
import { CORE_OPERATOR_FNS, type OperatorFn } from './operators.js';
import type { FactReference, Rule } from './rule.js';
import { chargeRenderedValue, compileTemplateRenderer, RenderBudget, withRenderBudget } from './templates.js';
import { compileUrlTemplate } from './webhook-url.js';

export interface Evaluation {
  matched: boolean;
  conditions: ConditionTrace[];
}

export interface RenderedAction {
  type: string;
  params: Record<string, unknown>;
}

/** A rule version made ready to run: conditions loaded into json-rules-engine, templates compiled. */
export interface CompiledRule {
  readonly id: string;
  readonly version: number;
  readonly actionCount: number;
  actionType(index: number): string;
  evaluate(payload: Record<string, unknown>): Promise<Evaluation>;
  /**
   * {@link evaluate}, answered at once when the compiled conditions answer (most rules, most
   * payloads), else the promise of json-rules-engine's answer: the fire path awaits only then.
   */
  evaluateNowOrLater(payload: Record<string, unknown>): Evaluation | Promise<Evaluation>;
  /** Each action's `category` (for the contact policy), in action order. */
  readonly actionCategories: readonly (MessageCategory | undefined)[];
  /** Renders action `index` for `payload`; throws a CRM_ERR_RENDER error when it cannot. */
  render(index: number, payload: Record<string, unknown>): RenderedAction;
  /**
   * The recipient fact reference of action `index` (sms, email) when it resolves to nothing in
   * `payload` (`undefined`, `null` or `''`): the run is then skipped (`recipient-missing`), not failed.
   */
  missingRecipient(index: number, payload: Record<string, unknown>): FactReference | undefined;
  /** Whether `cancelOn[index]`'s conditions pass on a cancelling event's payload (true without conditions). */
  cancelMatches(index: number, payload: Record<string, unknown>): Promise<boolean>;
  /**
   * How the conditions are evaluated: `compiled` (condition-compiler.ts, proven to give
   * json-rules-engine's verdict and trace), or `json-rules-engine` for a rule the compiler does not
   * support, with why (`fallback`).
   */
  readonly evaluator: 'compiled' | 'json-rules-engine';
  readonly fallback?: { code: FallbackCode; reason: string } | undefined;
}

type Renderer = (payload: Record<string, unknown>) => unknown;

function isFactReference(value: unknown): value is FactReference {
  return typeof value === 'object' && value !== null && (value as { source?: unknown }).source === 'fact' && typeof (value as { fact?: unknown }).fact === 'string';
}

function readFact(payload: Record<string, unknown>, ref: FactReference): unknown {
  const fact = Object.prototype.hasOwnProperty.call(payload, ref.fact) ? payload[ref.fact] : undefined;
  return resolvePath(fact, ref.path);
}

/** What compiling an action's params found: templates and fact references, which produce output from the event. */
interface CompiledParamsInfo {
  /** Templates (with `{{`) and fact references: each can place event data in the command. */
  dynamic: number;
  /** Fact references whose path visits values (wildcards, descent, unions, slices): they draw on the attempt's visit budget. */
  visiting: number;
}

/**
 * Compiles any params value: strings become templates, fact references become lookups charged to the
 * render budget (a payload repeating a reference would otherwise multiply an event's size). `info`
 * counts what produces output from the event: only an action without any renders outside a budget.
 */
function compileValue(value: unknown, info: CompiledParamsInfo): Renderer {
  if (typeof value === 'string') {
    const template = compileTemplateRenderer(value);
    if (value.includes('{{')) info.dynamic += 1;
    return template.render;
  }
  if (isFactReference(value)) {
    info.dynamic += 1;
    // Only a path that is not a plain walk of names and indexes visits anything.
    if (value.path !== undefined && pathKeys(value.path) === null) info.visiting += 1;
    return (payload) => chargeRenderedValue(readFact(payload, value));
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => compileValue(item, info));
    return (payload) => items.map((render) => render(payload));
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, v]) => [key, compileValue(v, info)] as const);
    return (payload) => {
      const out: Record<string, unknown> = {};
      for (const [key, render] of entries) {
        const rendered = render(payload);
        if (rendered !== undefined) out[key] = rendered;
      }
      return out;
    };
  }
  return () => value;
}

/** An action's params renderer, and whether it renders within the trigger's budget (anything but constants). */
function compileActionParams(type: string, params: Record<string, unknown>): { render: Renderer; budgeted: boolean; visiting: boolean } {
  const info: CompiledParamsInfo = { dynamic: 0, visiting: 0 };
  if (type !== 'webhook') {
    const render = compileValue(params, info);
    // Plain templates cannot loop, but many of them (or fact references) repeating one large value
    // multiply it: every action that places event data is charged, against the trigger's budget.
    return { render, budgeted: info.dynamic > 0, visiting: info.visiting > 0 };
  }
  const { url, method, headers, ...rest } = params as { url: string; method?: string; headers?: Record<string, string> };
  const renderUrl = compileUrlTemplate(url);
  const renderHeaders = compileValue(headers ?? {}, info);
  const renderRest = compileValue(rest, info);
  // A webhook's URL renders through its own template parts: always within a budget, as before.
  return {
    budgeted: true,
    visiting: info.visiting > 0,
    render: (payload) => ({
      url: renderUrl(payload),
      method: method ?? 'POST',
      headers: renderHeaders(payload),
      ...(renderRest(payload) as Record<string, unknown>),
    }),
  };
}

function renderError(rule: Rule, index: number, error: unknown): AutomationError {
  return new AutomationError('CRM_ERR_RENDER', `actions[${index}] of rule ${rule.id} could not be rendered: ${(error as Error).message}`, {
    cause: error,
  });
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new Error(`${field} resolved to ${value === undefined ? 'nothing' : JSON.stringify(value)}; a non-empty string is needed`);
  }
  return value;
}

/** Collects every evaluated leaf from json-rules-engine's result tree. */
function collectTraces(node: unknown, path: string, out: ConditionTrace[]): void {
  if (typeof node !== 'object' || node === null) return;
  const n = node as Record<string, unknown>;
  for (const kind of ['all', 'any'] as const) {
    const children = n[kind];
    if (Array.isArray(children)) {
      children.forEach((child, i) => collectTraces(child, `${path}.${kind}[${i}]`, out));
      return;
    }
  }
  if (n['not'] !== undefined) {
    collectTraces(n['not'], `${path}.not`, out);
    return;
  }
  if (typeof n['fact'] !== 'string') return;
  const evaluated = typeof n['result'] === 'boolean';
  out.push({
    path,
    fact: n['fact'],
    ...(typeof n['path'] === 'string' ? { factPath: n['path'] } : {}),
    operator: String(n['operator']),
    value: n['value'],
    ...(evaluated && 'factResult' in n ? { factResult: n['factResult'] } : {}),
    result: evaluated ? (n['result'] as boolean) : false,
    ...(evaluated ? {} : { evaluated: false }),
  });
}

/** One json-rules-engine with core's and the engine's operators, holding one rule of `conditions`. */
function conditionEngine(name: string, conditions: unknown, operators: ReadonlyMap<string, OperatorFn>): Engine {
  // Undefined facts are allowed: an absent fact is `undefined`, which `present` tells from a value.
  const engine = new Engine([], { allowUndefinedFacts: true, pathResolver: resolvePath });
  for (const [op, fn] of CORE_OPERATOR_FNS) engine.addOperator(op, fn);
  for (const [op, fn] of operators) engine.addOperator(op, fn);
  engine.addRule({ name, conditions: conditions as Parameters<Engine['addRule']>[0]['conditions'], event: { type: 'matched' } });
  return engine;
}

function isNothing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/**
 * `conditions` evaluated by json-rules-engine (with core's and the engine's operators), verdict and
 * trace: the reference the condition compiler is proven against, and what evaluates a rule it does not
 * support. The engine is built on first use, on a copy.
 */
export function jsonRulesEngineEvaluator(name: string, conditions: unknown, operators: ReadonlyMap<string, OperatorFn>): (payload: Record<string, unknown>, budget?: PathBudget) => Promise<Evaluation> {
  let engine: Engine | undefined;
  return async (payload, budget) => {
    engine ??= conditionEngine(name, structuredClone(conditions), operators);
    // The run's own almanac resolves every path of this run against the run's visit budget: runs of
    // other triggers interleave with this one at each await, so the budget cannot be the module's.
    const almanac = budget ? new Almanac({ allowUndefinedFacts: true, pathResolver: (value, path) => withPathBudget(budget, () => resolvePath(value, path)) }) : undefined;
    const result = await engine.run(payload, almanac ? { almanac } : {});
    const ruleResult = result.results[0] ?? result.failureResults[0];
    const traces: ConditionTrace[] = [];
    if (ruleResult) collectTraces(ruleResult.conditions, 'conditions', traces);
    return { matched: result.results.length > 0, conditions: traces };
  };
}

/**
 * Evaluates with the compiled conditions when they answer, else with json-rules-engine, whose verdict
 * or error is then the one that counts: the compiler throws where json-rules-engine would fail and
 * defers what it cannot decide alone (a promise from an operator, a function-valued fact).
 * json-rules-engine is built only when needed, on a copy: it writes parsed priorities back into the
 * conditions it is given, and stored rules are frozen.
 */
function conditionsEvaluator(
  name: string,
  conditions: unknown,
  operators: ReadonlyMap<string, OperatorFn>,
): {
  compiled: CompiledConditions;
  run(payload: Record<string, unknown>, budget?: PathBudget): Promise<Evaluation>;
  runNowOrLater(payload: Record<string, unknown>, budget?: PathBudget): Evaluation | Promise<Evaluation>;
} {
  const compiled = compileConditions(conditions, { operators });
  const reference = jsonRulesEngineEvaluator(name, conditions, operators);
  const runNowOrLater = (payload: Record<string, unknown>, budget: PathBudget = { pathVisits: 0 }): Evaluation | Promise<Evaluation> => {
    const evaluate = compiled.evaluate;
    const spentBefore = budget.pathVisits;
    if (evaluate) {
      try {
        // Every condition path of the evaluation draws on one visit budget (the trigger's).
        return withPathBudget(budget, () => evaluate(payload));
      } catch (error) {
        // A path over its visit budget is final: json-rules-engine would only spend it again.
        if (error instanceof PathBudgetError) throw error;
        // Anything else is decided by json-rules-engine below, error included; the paths it
        // resolves again are charged once.
        budget.pathVisits = spentBefore;
      }
    }
    return reference(payload, budget);
  };
  return {
    compiled,
    run: (payload, budget) => {
      try {
        return Promise.resolve(runNowOrLater(payload, budget));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    runNowOrLater,
  };
}

/**
 * What one trigger attempt may spend: the visits of all its paths (conditions, recipients, fact
 * references) and, once an action renders, the render budget all its actions share.
 */
interface AttemptBudget extends PathBudget {
  render: RenderBudget | undefined;
}

/*
 * The budgets of recent trigger attempts, by compiled rule and payload object: an attempt (a run, a
 * dry run) evaluates the conditions on a payload first, then reads recipients and renders its actions
 * on that same object, with sends awaited in between. A ring, not a WeakMap: a WeakMap entry per
 * attempt costs the garbage collector more than the whole fire path of a simple rule, and the ring
 * holds at most ATTEMPT_SLOTS payloads. An attempt pushed out by that many later ones (a claim batch
 * larger than the ring, interleaved) renders each action within a budget of its own, as before.
 */
const ATTEMPT_SLOTS = 128;
const attemptOwners: Array<object | undefined> = new Array<object | undefined>(ATTEMPT_SLOTS).fill(undefined);
const attemptPayloads: Array<object | undefined> = new Array<object | undefined>(ATTEMPT_SLOTS).fill(undefined);
const attemptBudgets: Array<AttemptBudget | undefined> = new Array<AttemptBudget | undefined>(ATTEMPT_SLOTS).fill(undefined);
let attemptNext = 0;

/** A fresh budget for an attempt of `owner` (a compiled rule) on `payload`; each evaluation starts one. */
function startAttempt(owner: object, payload: object): AttemptBudget {
  const budget: AttemptBudget = { pathVisits: 0, render: undefined };
  const slot = attemptNext;
  attemptNext = slot + 1 === ATTEMPT_SLOTS ? 0 : slot + 1;
  attemptOwners[slot] = owner;
  attemptPayloads[slot] = payload;
  attemptBudgets[slot] = budget;
  return budget;
}

/** The budget of the latest attempt of `owner` on `payload`, if still in the ring. */
function attemptOf(owner: object, payload: object): AttemptBudget | undefined {
  let slot = attemptNext;
  for (let n = 0; n < ATTEMPT_SLOTS; n++) {
    slot = slot === 0 ? ATTEMPT_SLOTS - 1 : slot - 1;
    if (attemptPayloads[slot] === payload && attemptOwners[slot] === owner) return attemptBudgets[slot];
  }
  return undefined;
}

function evaluationError(rule: Rule, error: unknown): AutomationError {
  return new AutomationError('CRM_ERR_EVALUATION', `conditions of rule ${rule.id} could not be evaluated: ${(error as Error).message}`, { cause: error });
}

export function compileRule(rule: Rule, operators: ReadonlyMap<string, OperatorFn>): CompiledRule {
  const conditions = conditionsEvaluator(rule.id, rule.conditions, operators);
  // Compiled on first use: most events a rule sees start it rather than cancel it.
  const cancelEvaluators = new Map<number, ReturnType<typeof conditionsEvaluator>>();

  const renderers = rule.actions.map((action) => compileActionParams(action.type, action.params as Record<string, unknown>));
  // One budget per trigger attempt (see startAttempt): each evaluation starts a fresh one, so a retry
  // of the trigger has its own; a render without an evaluation before it has one per action.
  const owner = renderers;

  return {
    id: rule.id,
    version: rule.version,
    actionCount: rule.actions.length,
    actionType: (index) => rule.actions[index]?.type ?? 'unknown',
    evaluator: conditions.compiled.evaluate ? 'compiled' : 'json-rules-engine',
    ...(conditions.compiled.fallback === undefined ? {} : { fallback: { code: conditions.compiled.code, reason: conditions.compiled.fallback } }),
    async evaluate(payload) {
      try {
        return await conditions.run(payload, startAttempt(owner, payload));
      } catch (error) {
        throw evaluationError(rule, error);
      }
    },
    evaluateNowOrLater(payload) {
      let evaluation: Evaluation | Promise<Evaluation>;
      try {
        evaluation = conditions.runNowOrLater(payload, startAttempt(owner, payload));
      } catch (error) {
        throw evaluationError(rule, error);
      }
      if (!(evaluation instanceof Promise)) return evaluation;
      return evaluation.then(undefined, (error: unknown) => {
        throw evaluationError(rule, error);
      });
    },
    actionCategories: rule.actions.map((action) => action.category),
    missingRecipient(index, payload) {
      const action = rule.actions[index];
      if (!action || (action.type !== 'sms' && action.type !== 'email')) return undefined;
      const recipient = (action.params as { recipient?: unknown }).recipient;
      if (!isFactReference(recipient)) return undefined;
      let value: unknown;
      try {
        // A walk of names and indexes visits nothing: only another path needs the attempt's budget.
        const budget = recipient.path !== undefined && pathKeys(recipient.path) === null ? attemptOf(owner, payload) : undefined;
        value = budget ? withPathBudget(budget, () => readFact(payload, recipient)) : readFact(payload, recipient);
      } catch {
        // A path too costly to resolve is a render error, reported when the action is rendered.
        return undefined;
      }
      return isNothing(value) ? recipient : undefined;
    },
    async cancelMatches(index, payload) {
      const entry = rule.cancelOn?.[index];
      if (!entry) return false;
      if (!entry.conditions) return true;
      let evaluator = cancelEvaluators.get(index);
      if (!evaluator) cancelEvaluators.set(index, (evaluator = conditionsEvaluator(`${rule.id}:cancelOn[${index}]`, entry.conditions, operators)));
      try {
        return (await evaluator.run(payload)).matched;
      } catch (error) {
        throw new AutomationError('CRM_ERR_EVALUATION', `cancelOn[${index}] conditions of rule ${rule.id} could not be evaluated: ${(error as Error).message}`, { cause: error });
      }
    },
    render(index, payload) {
      const action = rule.actions[index];
      const renderer = renderers[index];
      if (!action || !renderer) throw renderError(rule, index, new Error('no such action'));
      try {
        // One budget for every template and fact reference of the trigger's actions: loops, output
        // and path visits are bounded per trigger attempt, not per action (see TEMPLATE_LIMITS).
        let params: Record<string, unknown>;
        if (renderer.budgeted) {
          const attempt = attemptOf(owner, payload);
          const budget = attempt ? (attempt.render ??= new RenderBudget()) : new RenderBudget();
          budget.startAction();
          const renderWithin = () => withRenderBudget(budget, () => renderer.render(payload)) as Record<string, unknown>;
          params = attempt && renderer.visiting ? withPathBudget(attempt, renderWithin) : renderWithin();
        } else {
          params = renderer.render(payload) as Record<string, unknown>;
        }
        if (action.type === 'sms' || action.type === 'email') params['recipient'] = requireString(params['recipient'], 'recipient');
        if (action.type === 'email' && typeof params['templateId'] === 'string') params['templateData'] = payload;
        if (action.type === 'webhook') requireString(params['url'], 'url');
        return { type: action.type, params };
      } catch (error) {
        throw renderError(rule, index, error);
      }
    },
  };
}
