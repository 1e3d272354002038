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
  private readonly entries = new Map<string, CacheEntry>();
  /**
   * The entry each rule object was last found under: a store that hands out the same object for a
   * rule version (the memory store's frozen rules) is answered without building and hashing the
   * `id@version` key on every trigger. At most one object per entry, dropped when the entry is.
   */
  private readonly byObject = new WeakMap<Rule, CacheEntry>();
  private lookups = 0;
  constructor(
    private readonly capacity: number,
    private readonly operators: ReadonlyMap<string, OperatorFn>,
    /** Told of every rule version compiled (which evaluator, and why json-rules-engine when it is). */
    private readonly onCompiled?: (rule: Rule, compiled: CompiledRule) => void,
  ) {}

  get(rule: Rule): CompiledRule {
    const now = ++this.lookups;
    const known = this.byObject.get(rule);
    // The object's id or version may have been changed since (a caller's own rule object): then by key.
    const current = known && known.compiled.id === rule.id && known.compiled.version === rule.version;
    if (known && !current) {
      known.holder = undefined;
      this.byObject.delete(rule);
    }
    const hit = current ? known : this.entries.get(`${rule.id}@${rule.version}`);
    if (hit) {
      if (hit.holder !== rule) {
        if (hit.holder) this.byObject.delete(hit.holder);
        hit.holder = rule;
        this.byObject.set(rule, hit);
      }
      if (now - hit.movedAt > this.capacity / 2) {
        this.entries.delete(hit.key);
        hit.movedAt = now;
        this.entries.set(hit.key, hit);
      }
      return hit.compiled;
    }
    const compiled = compileRule(rule, this.operators);
    this.onCompiled?.(rule, compiled);
    const key = `${rule.id}@${rule.version}`;
    const entry: CacheEntry = { key, compiled, movedAt: now, holder: rule };
    this.entries.set(key, entry);
    this.byObject.set(rule, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.values().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest.key);
        if (oldest.holder) this.byObject.delete(oldest.holder);
        oldest.holder = undefined;
      }
    }
    return compiled;
  }
}

interface CacheEntry {
  readonly key: string;
  readonly compiled: CompiledRule;
  movedAt: number;
  /** The rule object {@link CompiledRuleCache.byObject} answers this entry for. */
  holder: Rule | undefined;
}
