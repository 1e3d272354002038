import type { OperatorFn } from './operators.js';
import type { Rule } from './rule.js';
import { compileRule, type CompiledRule } from './compiled-rule.js';

/**
 * Compiled rules by (id, version), the least recently used evicted first. A hit moves its entry to
 * the young end only when it has aged past half the capacity in lookups since it last moved: moving
 * it on every hit (a delete and an insert in a map of thousands, on every trigger) was a measurable
 * part of the fire path. So an entry is never evicted fewer than `capacity / 2` lookups after its
 * last use, against `capacity` distinct other versions in a strict LRU.
 */
export class CompiledRuleCache {
  private readonly entries = new Map<string, { compiled: CompiledRule; movedAt: number }>();
  private lookups = 0;
  constructor(
    private readonly capacity: number,
    private readonly operators: ReadonlyMap<string, OperatorFn>,
    /** Told of every rule version compiled (which evaluator, and why json-rules-engine when it is). */
    private readonly onCompiled?: (rule: Rule, compiled: CompiledRule) => void,
  ) {}

  get(rule: Rule): CompiledRule {
    const now = ++this.lookups;
    const key = `${rule.id}@${rule.version}`;
    const hit = this.entries.get(key);
    if (hit) {
      if (now - hit.movedAt > this.capacity / 2) {
        this.entries.delete(key);
        hit.movedAt = now;
        this.entries.set(key, hit);
      }
      return hit.compiled;
    }
    const compiled = compileRule(rule, this.operators);
    this.onCompiled?.(rule, compiled);
    this.entries.set(key, { compiled, movedAt: now });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return compiled;
  }
}
