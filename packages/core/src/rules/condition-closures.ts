import type { ConditionTrace } from '../scheduling/trigger.js';
import { atPath, isThenable, thenableResult, type ConditionNode, type GroupNode, type LeafNode, type NotNode } from './condition-tree.js';

/**
 * The closure back end of the condition compiler: one function per node. It runs where generated
 * code cannot (a runtime that refuses `new Function`), and is the reference the generated code is
 * read against: both follow the same tree, and the differential test holds both to json-rules-engine.
 */

export type FactValues = unknown[];
export type Slots = Array<ConditionTrace | undefined>;
/** A node as its parent sees it: a leaf's raw operator result, a group's `=== true`. */
export type NodeEvaluation = (facts: FactValues, slots: Slots) => unknown;

function leaf(node: LeafNode): NodeEvaluation {
  const { index, factAt, read, compare, reference } = node;
  const { path, fact, factPath, operator, value } = node.trace;
  const evaluated =
    factPath === undefined
      ? (factResult: unknown, result: boolean): ConditionTrace => ({ path, fact, operator, value, factResult, result })
      : (factResult: unknown, result: boolean): ConditionTrace => ({ path, fact, factPath, operator, value, factResult, result });
  const compareTo: (facts: FactValues) => unknown = reference ? (facts) => (reference.factAt < 0 ? undefined : atPath(facts[reference.factAt], reference.read)) : () => value;
  return (facts, slots) => {
    const against = compareTo(facts);
    const factResult = atPath(facts[factAt], read);
    const result = compare(factResult, against);
    if (typeof result === 'boolean') slots[index] = evaluated(factResult, result);
    else if (isThenable(result)) throw thenableResult(operator);
    return result;
  };
}

function group(node: GroupNode): NodeEvaluation {
  const [only] = node.children;
  if (node.children.length === 0) return () => true;
  if (node.children.length === 1 && only) return evaluation(only);
  const sets = node.sets.map((set) => set.map(evaluation));
  if (node.kind === 'all') {
    return (facts, slots) => {
      for (const set of sets) {
        let passed = true;
        // Every member of a set is evaluated (and traced) before the set's result decides.
        for (const evaluate of set) if (evaluate(facts, slots) !== true) passed = false;
        if (!passed) return false;
      }
      return true;
    };
  }
  return (facts, slots) => {
    for (const set of sets) {
      let passed = false;
      for (const evaluate of set) if (evaluate(facts, slots) === true) passed = true;
      if (passed) return true;
    }
    return false;
  };
}

/** A group's or `not`'s own result (the root's verdict is its truthiness). */
export function comparison(node: GroupNode | NotNode): NodeEvaluation {
  if (node.kind === 'not') {
    const inner = evaluation(node.child);
    return (facts, slots) => !inner(facts, slots);
  }
  return group(node);
}

function evaluation(node: ConditionNode): NodeEvaluation {
  if (node.kind === 'leaf') return leaf(node);
  const inner = comparison(node);
  return (facts, slots) => inner(facts, slots) === true;
}
