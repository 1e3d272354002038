import { emptyCondition, emptyGroup, type GroupForm, type GroupMode, type NodeForm } from './rule-form.js';

/** Immutable edits of the conditions tree, addressed by each node's render key. */

export function updateNode<N extends NodeForm>(root: N, key: string, change: (node: NodeForm) => NodeForm): N {
  if (root.key === key) return change(root) as N;
  if (root.kind !== 'group') return root;
  let changed = false;
  const children = root.children.map((child) => {
    const next = updateNode(child, key, change);
    if (next !== child) changed = true;
    return next;
  });
  return changed ? ({ ...root, children } as N) : root;
}

export function removeNode<N extends NodeForm>(root: N, key: string): N {
  if (root.kind !== 'group') return root;
  const kept = root.children.filter((child) => child.key !== key);
  const children = kept.map((child) => removeNode(child, key));
  const changed = kept.length !== root.children.length || children.some((c, i) => c !== kept[i]);
  return changed ? ({ ...root, children } as N) : root;
}

export function addChild<N extends NodeForm>(root: N, groupKey: string, child: NodeForm): N {
  return updateNode(root, groupKey, (node) => (node.kind === 'group' ? { ...node, children: [...node.children, child] } : node));
}

/**
 * Switches a group between all / any / not. `not` holds exactly one condition, so several children
 * are wrapped in an `all` group first, and none become one empty condition.
 */
export function setGroupMode(group: GroupForm, mode: GroupMode, fact?: string): GroupForm {
  if (mode === group.mode) return group;
  if (mode === 'not') {
    const only = group.children.length === 1 ? group.children[0] : undefined;
    const child = only ?? (group.children.length === 0 ? emptyCondition(fact) : emptyGroup('all', group.children));
    return { ...group, mode, children: [child] };
  }
  return { ...group, mode };
}
