/**
 * Bounds on the shape of tenant JSON (events, rule documents, webhook payloads, custom action params),
 * checked iteratively before any recursive work (zod, structuredClone, JSON.stringify, template
 * rendering), so a 15 KB document 2,500 levels deep is a typed refusal rather than a `RangeError`.
 */

/** Deepest nesting of objects and arrays accepted in tenant JSON. `{}` is depth 1. */
export const MAX_JSON_DEPTH = 64;

/**
 * Most objects, arrays and values walked in one document. A tree within the byte limits has far
 * fewer; a JavaScript caller's object graph with shared references (a DAG) could expand without end.
 */
export const MAX_JSON_NODES = 500_000;

export type JsonShapeProblem =
  | { code: 'too_deep'; path: PropertyKey[]; message: string }
  | { code: 'too_large'; path: PropertyKey[]; message: string };

/**
 * Walks `value` without recursion and reports the first place it is nested deeper than `maxDepth`,
 * or that it holds more than `maxNodes` nodes; null when it is within both.
 */
export function checkJsonShape(value: unknown, maxDepth: number = MAX_JSON_DEPTH, maxNodes: number = MAX_JSON_NODES): JsonShapeProblem | null {
  if (typeof value !== 'object' || value === null) return null;
  // Parallel stacks: the node, its depth, and the key that led to it (for the path of a refusal).
  const nodes: object[] = [value];
  const depths: number[] = [1];
  const parents: number[] = [-1];
  const keys: PropertyKey[] = [''];
  const trail: Array<{ parent: number; key: PropertyKey }> = [];
  let visited = 0;
  while (nodes.length > 0) {
    const node = nodes.pop() as object;
    const depth = depths.pop() as number;
    const parent = parents.pop() as number;
    const key = keys.pop() as PropertyKey;
    const here = trail.length;
    trail.push({ parent, key });
    visited += 1;
    if (visited > maxNodes) {
      return { code: 'too_large', path: pathOf(trail, here), message: `holds more than ${maxNodes} values` };
    }
    if (depth > maxDepth) {
      return { code: 'too_deep', path: pathOf(trail, here), message: `nests more than ${maxDepth} levels of objects and arrays` };
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        const child: unknown = node[i];
        if (typeof child === 'object' && child !== null) push(child, depth + 1, here, i);
        else visited += 1;
      }
    } else {
      for (const [k, child] of Object.entries(node)) {
        if (typeof child === 'object' && child !== null) push(child, depth + 1, here, k);
        else visited += 1;
      }
    }
  }
  return null;

  function push(child: object, depth: number, parent: number, key: PropertyKey) {
    nodes.push(child);
    depths.push(depth);
    parents.push(parent);
    keys.push(key);
  }
}

function pathOf(trail: ReadonlyArray<{ parent: number; key: PropertyKey }>, index: number): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let i = index; i > 0; ) {
    const step = trail[i];
    if (!step) break;
    path.push(step.key);
    i = step.parent;
  }
  return path.reverse();
}
