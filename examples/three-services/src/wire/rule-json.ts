import type { ConditionGroup, Rule, RuleAction } from '@crm-automation/core';
import { z } from 'zod';
import { RuleWireError } from '../service-errors.js';

export { RuleWireError };

/**
 * A rule as it travels between services in JSON (REST bodies, bus messages): dates as ISO strings.
 * The shape is checked, not the rule's semantics: the rules service validated it when it was saved,
 * and the engine compiles it again before evaluating.
 */
const delay = z.object({ value: z.number().nonnegative(), unit: z.enum(['seconds', 'minutes', 'hours', 'days']) });
const factEvaluation = z.enum(['event', 'current']);

const ruleJson = z.object({
  id: z.string().min(1),
  accountId: z.string().min(1),
  name: z.string(),
  description: z.string().optional(),
  enabled: z.boolean(),
  trigger: z.object({ eventName: z.string().min(1), key: z.string().min(1).optional() }),
  delay,
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.object({ type: z.string().min(1), params: z.record(z.string(), z.unknown()) })),
  // The entity-aware parts (issue 16): a lookup that dropped them would turn a keyed rule into one run per event.
  cancelOn: z.array(z.object({ eventName: z.string().min(1), conditions: z.record(z.string(), z.unknown()).optional(), key: z.string().min(1).optional() })).optional(),
  concurrency: z.object({ mode: z.enum(['all', 'supersede', 'skipIfPending']), maxWait: delay.optional() }).optional(),
  evaluate: z.union([factEvaluation, z.record(z.string(), factEvaluation)]).optional(),
  version: z.number().int().positive(),
  createdAt: z.coerce.date(),
  updatedAt: z.coerce.date(),
});

/** Reads a rule from its JSON form (dates revived); throws {@link RuleWireError} when malformed. */
export function ruleFromJson(value: unknown): Rule {
  const parsed = ruleJson.safeParse(value);
  if (!parsed.success) {
    throw new RuleWireError(`malformed rule: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const { description, conditions, actions, trigger, cancelOn, concurrency, evaluate, ...rest } = parsed.data;
  return {
    ...rest,
    ...(description === undefined ? {} : { description }),
    trigger: { eventName: trigger.eventName, ...(trigger.key === undefined ? {} : { key: trigger.key }) },
    conditions: conditions as unknown as ConditionGroup,
    actions: actions as RuleAction[],
    ...(cancelOn === undefined ? {} : { cancelOn: cancelOn.map((c) => ({ eventName: c.eventName, ...(c.conditions === undefined ? {} : { conditions: c.conditions as unknown as ConditionGroup }), ...(c.key === undefined ? {} : { key: c.key }) })) }),
    ...(concurrency === undefined ? {} : { concurrency: { mode: concurrency.mode, ...(concurrency.maxWait === undefined ? {} : { maxWait: concurrency.maxWait }) } }),
    ...(evaluate === undefined ? {} : { evaluate }),
  };
}

/** The JSON form of a rule (what `JSON.stringify` makes of it, as a plain object). */
export function ruleToJson(rule: Rule): Record<string, unknown> {
  return JSON.parse(JSON.stringify(rule)) as Record<string, unknown>;
}
