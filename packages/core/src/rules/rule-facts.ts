import type { FactEvaluation } from './rule.js';

/**
 * Which facts a rule reads, and which of them it evaluates on current state (`evaluate`). One module
 * for both the save-time check (every current fact needs a loader) and the fire-time choice of what
 * to load, so the two cannot disagree.
 */

/** Fact names of a condition tree's leaves, without recursion (the tree is size-checked, not trusted). */
export function conditionFacts(root: unknown, out: Set<string> = new Set()): Set<string> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    const group = node as Record<string, unknown>;
    for (const kind of ['all', 'any'] as const) {
      const children = group[kind];
      if (Array.isArray(children)) for (const child of children) stack.push(child);
    }
    if ('not' in group) stack.push(group['not']);
    if (typeof group['fact'] === 'string') out.add(group['fact']);
  }
  return out;
}

/** Fact names of the fact references (`{ source: 'fact', fact }`) anywhere in actions' params. */
export function referencedFacts(actions: unknown, out: Set<string> = new Set()): Set<string> {
  const stack: unknown[] = [actions];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    const record = node as Record<string, unknown>;
    if (record['source'] === 'fact' && typeof record['fact'] === 'string') out.add(record['fact']);
    for (const value of Object.values(record)) stack.push(value);
  }
  return out;
}

interface RuleFactsShape {
  conditions?: unknown;
  actions?: unknown;
  evaluate?: FactEvaluation | Record<string, FactEvaluation> | undefined;
}

/** Facts the rule's conditions and fact references name. */
export function namedFacts(rule: RuleFactsShape): Set<string> {
  return referencedFacts(rule.actions, conditionFacts(rule.conditions));
}

/**
 * The facts a rule marks current: with `evaluate: 'current'`, every fact its conditions and fact
 * references name; with a per-fact map, those mapped to `'current'`; none otherwise.
 */
export function currentFactsOf(rule: RuleFactsShape): string[] {
  const { evaluate } = rule;
  if (evaluate === undefined || evaluate === 'event') return [];
  if (evaluate === 'current') return [...namedFacts(rule)];
  if (typeof evaluate !== 'object' || evaluate === null) return [];
  return Object.entries(evaluate)
    .filter(([, how]) => how === 'current')
    .map(([fact]) => fact);
}

/**
 * The facts to load at fire time: those {@link currentFactsOf} names and, with `evaluate: 'current'`,
 * also any top-level payload field with a loader (templates read them by name, `{{job.number}}`,
 * which the rule's conditions need not mention).
 */
export function factsToLoad(rule: RuleFactsShape, payload: Record<string, unknown>, hasLoader: (fact: string) => boolean): string[] {
  const facts = new Set(currentFactsOf(rule).filter(hasLoader));
  if (rule.evaluate === 'current') for (const key of Object.keys(payload)) if (hasLoader(key)) facts.add(key);
  return [...facts];
}
