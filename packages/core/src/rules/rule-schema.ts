// One file: the rule schema and its refinements (limits, templates, paths, action params through the
// gateways' schemas) must agree on every JSON path they report, so they are defined side by side.
import { z } from 'zod';
import { formatPath, type ValidationIssue } from '../errors.js';
import type { ParamsSchema } from '../ports/gateway.js';
import { builtInRuleParamsSchemas, isBuiltInActionType } from '../actions/built-in.js';
import { issue, toCustom, toCustomAll } from '../actions/fields.js';
import { didYouMean } from '../config/check-options.js';
import { EVENT_NAME_PATTERN } from '../events/event.js';
import { checkJsonShape, MAX_JSON_DEPTH } from '../input/json-shape.js';
import { toValidationIssues } from './issues.js';
import { unknownOperatorMessage } from './operators.js';
import { checkJsonPath, checkSingleValuePath } from './json-path.js';
import { hinted, JSON_SCHEMA_HINTS } from './json-schema-hints.js';
import { entityIssues, loaderIssues } from './rule-entity-checks.js';
import type { RuleDraft } from './rule.js';
import { delayToMs } from './rule.js';
import { EVENT_TIMESTAMP_ANCHOR, MAX_SCHEDULE_HORIZON_MS, offsetReachDays } from '../scheduling/schedule.js';
import { clockSchema, fallbackNeedsPath, fallbackRefinement, zoneNameSchema, zoneSpecSchema } from '../scheduling/zone-schemas.js';
import { MESSAGE_CATEGORIES } from '../policy/contact-policy.js';

export interface RuleLimits {
  /** Deepest nesting of all/any/not groups. */
  maxDepth: number;
  /** Most leaf conditions in one rule. */
  maxConditions: number;
  maxActions: number;
  /** Largest rule document, as JSON. */
  maxBytes: number;
  /**
   * Most template expressions (`{{...}}`) in one rule, all fields together. Parsing templates is the
   * costly part of validation; this keeps a rule within the size limit fast to check and to render.
   */
  maxTemplateExpressions: number;
  /**
   * Most characters inside template expressions (between `{{` and `}}`, comments not counted) in one
   * rule, all fields together. Handlebars' parser spends its time per token: a rule of long paths
   * (`{{a.a.a.a...}}`) takes longer to check than any count of expressions says.
   */
  maxTemplateExpressionChars: number;
}

export const DEFAULT_RULE_LIMITS: RuleLimits = { maxDepth: 8, maxConditions: 100, maxActions: 20, maxBytes: 64 * 1024, maxTemplateExpressions: 1_000, maxTemplateExpressionChars: 16_384 };

export const MAX_DELAY_MS = 365 * 86_400_000;

/** Most `cancelOn` entries of one rule. */
export const MAX_CANCEL_ON = 10;

export interface RuleValidatorOptions {
  isOperator: (name: string) => boolean;
  /** Every operator name a rule may use, for "did you mean" hints. */
  operatorNames?: (() => readonly string[]) | undefined;
  /**
   * Action types that may appear in rules, with the params schema of the gateway that sends them
   * (`ChannelGateway.paramsSchema`). Built-in types without one use core's built-in schema.
   */
  actionTypes: ReadonlyMap<string, ParamsSchema | undefined>;
  /** Action types with a gateway on this engine; saving a rule with another type is a warning. */
  sendableTypes?: ReadonlySet<string> | undefined;
  limits: RuleLimits;
  /** Extra save-time check of literal webhook URLs (SSRF); returns a message when refused. */
  checkUrl?: ((url: URL) => string | null) | undefined;
  /**
   * Facts this engine has a loader for (its `facts` option). When given, a rule that evaluates a fact
   * on current state (`evaluate`) without a loader for it is refused; when absent (an engine that never
   * fires rules, such as a rules service), `evaluate` is not checked against loaders.
   */
  factLoaders?: ReadonlySet<string> | undefined;
}

export type RuleValidationResult =
  | { ok: true; rule: RuleDraft; /** Accepted, but worth a look (an action type with no gateway here). */ warnings?: ValidationIssue[] | undefined }
  | { ok: false; issues: ValidationIssue[] };

interface ShapeStats {
  depth: number;
  conditions: number;
}

/** Measures nesting without recursion, so a hostile 10,000-deep document cannot blow the stack. */
function measureConditions(root: unknown, maxDepth: number): ShapeStats {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: root, depth: 1 }];
  const stats: ShapeStats = { depth: 0, conditions: 0 };
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (typeof node !== 'object' || node === null) continue;
    const group = node as Record<string, unknown>;
    const children = Array.isArray(group['all']) ? group['all'] : Array.isArray(group['any']) ? group['any'] : 'not' in group ? [group['not']] : null;
    if (children === null) {
      if ('fact' in group) stats.conditions += 1;
      continue;
    }
    stats.depth = Math.max(stats.depth, depth);
    if (depth > maxDepth) continue;
    for (const child of children) stack.push({ node: child, depth: depth + 1 });
  }
  return stats;
}

/** Builds the validator for one engine's operators, action types and limits. */
export interface RuleValidator {
  (input: unknown): RuleValidationResult;
  /** The zod schema behind the validator (for JSON Schema / OpenAPI generation). */
  readonly schema: z.ZodType;
  /** Params schemas of the built-in action types. */
  readonly builtInParams: Readonly<Record<string, z.ZodType>>;
}

export function createRuleValidator(options: RuleValidatorOptions): RuleValidator {
  const { isOperator, limits } = options;
  const builtIns = builtInRuleParamsSchemas({ checkUrl: options.checkUrl });

  const leaf = z
    .strictObject({
      fact: z.string().min(1).max(100),
      operator: z.string().min(1).max(100),
      value: z.unknown().optional(),
      path: z.string().max(500).optional(),
      params: z.record(z.string(), z.unknown()).optional(),
      name: z.string().max(200).optional(),
      priority: z.number().int().min(1).optional(),
    })
    .superRefine((c, ctx) => {
      if (!isOperator(c.operator)) {
        ctx.addIssue(issue('unknown_operator', unknownOperatorMessage(c.operator, options.operatorNames?.() ?? []), ['operator']));
      }
      if (!('value' in c)) ctx.addIssue(issue('missing_value', 'condition needs a value (null is allowed)', ['value']));
      else if (c.operator.split(':').pop() === 'present' && typeof c.value !== 'boolean') {
        ctx.addIssue(issue('invalid_value', 'the "present" operator takes value true (the field is there and not null) or false (it is absent or null)', ['value']));
      }
      if (c.path !== undefined) {
        const problem = checkJsonPath(c.path);
        if (problem) ctx.addIssue(issue(problem.code, problem.message, ['path']));
      }
    });

  const groupMeta = { name: z.string().max(200).optional(), priority: z.number().int().min(1).optional() };
  // Decide between group and leaf by shape first, so errors point inside the intended branch
  // instead of a generic "invalid union".
  const conditionNode = (depth: number): z.ZodType<unknown> =>
    z.unknown().superRefine((value, ctx) => {
      const result = (isGroupShape(value) ? groupNode(depth) : leaf).safeParse(value);
      if (!result.success) for (const i of result.error.issues) ctx.addIssue({ ...toCustom(i) });
    });
  const groupNode = (depth: number): z.ZodType<unknown> =>
    hinted(z.unknown().superRefine((value, ctx) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        ctx.addIssue(issue('invalid_type', 'conditions must be an object with "all", "any" or "not"'));
        return;
      }
      const g = value as Record<string, unknown>;
      const kinds = ['all', 'any', 'not'].filter((k) => k in g);
      if ('condition' in g) {
        ctx.addIssue(issue('unsupported', 'shared condition references are not supported; inline the conditions', ['condition']));
        return;
      }
      if (kinds.length !== 1) {
        ctx.addIssue(issue('invalid_group', 'a condition group needs exactly one of "all", "any" or "not"'));
        return;
      }
      const kind = kinds[0] as 'all' | 'any' | 'not';
      for (const key of Object.keys(g)) {
        if (key !== kind && key !== 'name' && key !== 'priority') ctx.addIssue(issue('unrecognized_keys', `unrecognized key "${key}"`, [key]));
      }
      const meta = z.object(groupMeta).safeParse({ name: g['name'], priority: g['priority'] });
      if (!meta.success) for (const i of meta.error.issues) ctx.addIssue(toCustom(i));
      if (kind === 'not') {
        const inner = conditionNode(depth + 1).safeParse(g['not']);
        if (!inner.success) for (const i of inner.error.issues) ctx.addIssue(toCustom(i, ['not']));
        return;
      }
      const children = g[kind];
      if (!Array.isArray(children)) {
        ctx.addIssue(issue('invalid_type', `"${kind}" must be an array of conditions`, [kind]));
        return;
      }
      children.forEach((child, index) => {
        const inner = conditionNode(depth + 1).safeParse(child);
        if (!inner.success) for (const i of inner.error.issues) ctx.addIssue(toCustom(i, [kind, index]));
      });
    }), 'conditionGroup');

  const action = hinted(z
    .strictObject({ type: z.string().min(1).max(50), params: z.record(z.string(), z.unknown()), category: z.enum(MESSAGE_CATEGORIES).optional() })
    .superRefine((a, ctx) => {
      const known = options.actionTypes.has(a.type);
      if (!known) {
        const types = [...options.actionTypes.keys()];
        ctx.addIssue(issue('unknown_action_type', `unknown action type "${a.type}"${didYouMean(a.type, types)} (known: ${types.join(', ')})`, ['type']));
        return;
      }
      // The gateway's own schema when it has one; the built-in schema of a built-in type otherwise.
      const schema: ParamsSchema | undefined = options.actionTypes.get(a.type) ?? (isBuiltInActionType(a.type) ? builtIns[a.type] : undefined);
      if (!schema) return;
      const result = schema.safeParse(a.params);
      if (!result.success && result.error) {
        for (const i of toCustomAll(result.error.issues, ['params'])) ctx.addIssue(i);
      }
    }), 'action');

  const eventName = z.string().min(1).max(200).regex(EVENT_NAME_PATTERN, 'event name may use letters, digits and _ . : - /');
  const entityKeyPath = z
    .string()
    .min(1)
    .max(500)
    .superRefine((path, ctx) => {
      const problem = checkSingleValuePath(path);
      if (problem) ctx.addIssue(issue(problem.code, problem.message));
    });
  const delay = z
    .strictObject({
      value: z.number().finite().min(0),
      unit: z.enum(['seconds', 'minutes', 'hours', 'days']),
    })
    .refine((d) => delayToMs(d) <= MAX_DELAY_MS, { message: 'delay must be at most 365 days', params: { code: 'delay_too_long' } });
  const factEvaluation = z.enum(['event', 'current']);
  const clock = clockSchema;
  const zoneName = zoneNameSchema;
  const zoneSpec = zoneSpecSchema;
  const schedule = z
    .strictObject({
      anchor: z
        .string()
        .min(1)
        .max(500)
        .superRefine((anchor, ctx) => {
          if (anchor === EVENT_TIMESTAMP_ANCHOR) return;
          const problem = checkSingleValuePath(anchor);
          if (problem) ctx.addIssue(issue(problem.code, `${problem.message} (the anchor is a JSONPath to an ISO date in the payload, or "${EVENT_TIMESTAMP_ANCHOR}")`));
        })
        .describe('JSONPath to an ISO 8601 date in the payload ($.appointment.startsAt), or "event.timestamp"'),
      offset: z
        .strictObject({ value: z.number().finite(), unit: z.enum(['seconds', 'minutes', 'hours', 'days', 'weeks', 'months']) })
        .superRefine((offset, ctx) => {
          if ((offset.unit === 'days' || offset.unit === 'weeks' || offset.unit === 'months') && !Number.isInteger(offset.value)) {
            ctx.addIssue(issue('not_integer', `an offset in ${offset.unit} (calendar units) must be a whole number`, ['value']));
          }
          if (offsetReachDays(offset) > MAX_SCHEDULE_HORIZON_MS / 86_400_000) {
            ctx.addIssue(issue('offset_too_long', `an offset reaches at most ${MAX_SCHEDULE_HORIZON_MS / 86_400_000} days (the schedule horizon)`, ['value']));
          }
        })
        .describe('Added to the anchor (negative: before). days, weeks and months are calendar units in the zone; seconds to hours are elapsed time')
        .optional(),
      at: clock.describe('Local time of day of the due time, HH:mm').optional(),
      timeZone: zoneSpec.describe('An IANA zone (America/Chicago) or a JSONPath to one in the payload ($.client.timeZone); UTC when absent').optional(),
      fallbackTimeZone: zoneName.describe('IANA zone used when the payload has no zone at a timeZone path').optional(),
      window: z
        .strictObject({
          days: z
            .array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']))
            .min(1, 'a window is open on at least one day')
            .max(7)
            .refine((days) => new Set(days).size === days.length, { message: 'each day at most once', params: { code: 'duplicate_day' } })
            .optional(),
          from: clock,
          to: clock,
        })
        .refine((w) => w.from !== w.to, { message: 'a window needs different from and to (to before from wraps past midnight)', params: { code: 'empty_window' }, path: ['to'] })
        .describe('Local hours a run may start in; a due time outside moves to the next opening (to `at` on the next open day when `at` is inside the hours). to before from wraps past midnight; days are the days an opening starts')
        .optional(),
      ifPast: z
        .enum(['skip', 'now'])
        .describe('A due time already past at intake: skip (recorded skipped) or run now. Default: skip for a payload anchor, now for event.timestamp')
        .optional(),
    })
    .refine(fallbackNeedsPath, fallbackRefinement)
    .describe("Instead of delay: the run is due relative to a date in the event, in the recipient's time zone (docs/schedules.md)");

  const ruleSchema = z.strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2_000).optional(),
    enabled: z.boolean().default(true),
    // Present in the design doc's documents; the account always comes from the caller.
    accountId: z.string().optional(),
    trigger: z.strictObject({
      eventName,
      // The entity the rule's runs are about: one value of the payload (`$.job.id`).
      key: entityKeyPath.optional(),
    }),
    delay: delay.default({ value: 0, unit: 'minutes' }),
    schedule: schedule.optional(),
    conditions: groupNode(1),
    actions: z.array(action).min(1, 'a rule needs at least one action').max(limits.maxActions),
    cancelOn: z
      .array(z.strictObject({ eventName, conditions: groupNode(1).optional(), key: entityKeyPath.optional() }))
      .max(MAX_CANCEL_ON, `a rule may have at most ${MAX_CANCEL_ON} cancelOn entries`)
      .optional(),
    concurrency: z.strictObject({ mode: z.enum(['all', 'supersede', 'skipIfPending']), maxWait: delay.optional() }).optional(),
    evaluate: z
      .union([factEvaluation, z.record(z.string().min(1).max(100), factEvaluation)], {
        error: () => 'evaluate must be "event", "current", or an object mapping fact names to "event" or "current"',
      })
      .optional(),
  });

  const validateRule = (input: unknown): RuleValidationResult => {
    // Before anything that recurses (JSON.stringify, zod, the template checks): a deep value is a
    // typed refusal, not a RangeError.
    const shape = checkJsonShape(input, MAX_JSON_DEPTH);
    if (shape) return { ok: false, issues: [{ path: formatPath(shape.path), code: shape.code, message: `rule ${shape.message}` }] };
    let json: string;
    try {
      json = JSON.stringify(input) ?? '';
    } catch {
      return { ok: false, issues: [{ path: '', code: 'not_json', message: 'rule must be a JSON document' }] };
    }
    const size = Buffer.byteLength(json);
    if (size > limits.maxBytes) {
      return { ok: false, issues: [{ path: '', code: 'too_large', message: `rule is ${size} bytes; the limit is ${limits.maxBytes}` }] };
    }
    const expressions = countOccurrences(json, '{{');
    if (expressions > limits.maxTemplateExpressions) {
      return { ok: false, issues: [{ path: '', code: 'too_many_expressions', message: `rule has ${expressions} template expressions ({{...}}); the limit is ${limits.maxTemplateExpressions}` }] };
    }
    const expressionChars = expressions === 0 ? 0 : templateExpressionChars(json);
    if (expressionChars > limits.maxTemplateExpressionChars) {
      return { ok: false, issues: [{ path: '', code: 'templates_too_large', message: `rule has ${expressionChars} characters inside template expressions ({{...}}); the limit is ${limits.maxTemplateExpressionChars}` }] };
    }
    const pre: ValidationIssue[] = [];
    if (typeof input === 'object' && input !== null) {
      const stats = measureConditions((input as Record<string, unknown>)['conditions'], limits.maxDepth);
      if (stats.depth > limits.maxDepth) {
        // Refuse before parsing: deep documents are the ones that cost the most to walk.
        return { ok: false, issues: [{ path: 'conditions', code: 'too_deep', message: `conditions nest ${stats.depth} levels; the limit is ${limits.maxDepth}` }] };
      }
      // cancelOn conditions spend the same budgets: one rule, one bound on what evaluating it costs.
      let total = stats.conditions;
      const cancelOn = (input as Record<string, unknown>)['cancelOn'];
      if (Array.isArray(cancelOn)) {
        for (let index = 0; index < Math.min(cancelOn.length, MAX_CANCEL_ON); index++) {
          const entry: unknown = cancelOn[index];
          if (typeof entry !== 'object' || entry === null || !('conditions' in entry)) continue;
          const entryStats = measureConditions((entry as Record<string, unknown>)['conditions'], limits.maxDepth);
          if (entryStats.depth > limits.maxDepth) {
            return { ok: false, issues: [{ path: `cancelOn[${index}].conditions`, code: 'too_deep', message: `conditions nest ${entryStats.depth} levels; the limit is ${limits.maxDepth}` }] };
          }
          total += entryStats.conditions;
        }
      }
      if (stats.conditions > limits.maxConditions) {
        pre.push({ path: 'conditions', code: 'too_many_conditions', message: `rule has ${stats.conditions} conditions; the limit is ${limits.maxConditions}` });
      } else if (total > limits.maxConditions) {
        pre.push({ path: 'cancelOn', code: 'too_many_conditions', message: `rule has ${total} conditions with those of cancelOn; the limit is ${limits.maxConditions}` });
      }
      pre.push(...entityIssues(input as Record<string, unknown>));
    }
    const parsed = ruleSchema.safeParse(input);
    const issues = [...pre, ...(parsed.success ? [] : toValidationIssues(parsed.error.issues))];
    if (parsed.success && options.factLoaders) issues.push(...loaderIssues(parsed.data as RuleDraft, options.factLoaders));
    if (issues.length > 0 || !parsed.success) return { ok: false, issues };
    const { accountId: _ignored, ...rest } = parsed.data;
    const warnings: ValidationIssue[] = [];
    if (options.sendableTypes) {
      parsed.data.actions.forEach((a, index) => {
        if (!options.sendableTypes?.has(a.type)) {
          warnings.push({ path: `actions[${index}].type`, code: 'no_gateway', message: `no gateway for "${a.type}" is configured on this engine; runs of this rule will fail on this action until one is` });
        }
      });
    }
    return warnings.length > 0 ? { ok: true, rule: rest as RuleDraft, warnings } : { ok: true, rule: rest as RuleDraft };
  };
  return Object.assign(validateRule, { schema: ruleSchema, builtInParams: builtIns });
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n += 1;
  return n;
}

const COMMENT_END = /--~?}}/g;

/**
 * Characters between `{{` and `}}` of every template expression in a rule's JSON text, comments
 * (`{{! ...}}`, `{{!-- ... --}}`) not counted: an upper bound of what Handlebars' lexer tokenizes.
 */
function templateExpressionChars(json: string): number {
  let total = 0;
  let i = json.indexOf('{{');
  while (i >= 0) {
    const open = json[i + 2] === '~' ? i + 3 : i + 2;
    let end: number;
    if (json[open] === '!') {
      if (json.startsWith('--', open + 1)) {
        COMMENT_END.lastIndex = open + 3;
        const close = COMMENT_END.exec(json);
        end = close ? close.index + close[0].length : json.length;
      } else {
        const close = json.indexOf('}}', open);
        end = close < 0 ? json.length : close + 2;
      }
    } else {
      const close = json.indexOf('}}', i + 2);
      total += (close < 0 ? json.length : close) - (i + 2);
      end = close < 0 ? json.length : close + 2;
    }
    i = json.indexOf('{{', end);
  }
  return total;
}

function isGroupShape(value: unknown): boolean {
  return typeof value === 'object' && value !== null && ('all' in value || 'any' in value || 'not' in value || 'condition' in value);
}

const FACT_REFERENCE_JSON = {
  type: 'object',
  properties: { source: { const: 'fact' }, fact: { type: 'string' }, path: { type: 'string', description: 'JSONPath into the fact, e.g. $.assignedTechnician.phone' } },
  required: ['source', 'fact'],
  additionalProperties: false,
};

const CONDITION_DEFS = {
  Condition: {
    description: 'A json-rules-engine condition: a group (all/any/not) or a leaf comparing a fact (at a JSONPath) with a value.',
    anyOf: [{ $ref: '#/$defs/ConditionGroup' }, { $ref: '#/$defs/LeafCondition' }],
  },
  ConditionGroup: {
    oneOf: [
      { type: 'object', properties: { all: { type: 'array', items: { $ref: '#/$defs/Condition' } }, name: { type: 'string' }, priority: { type: 'integer', minimum: 1 } }, required: ['all'], additionalProperties: false },
      { type: 'object', properties: { any: { type: 'array', items: { $ref: '#/$defs/Condition' } }, name: { type: 'string' }, priority: { type: 'integer', minimum: 1 } }, required: ['any'], additionalProperties: false },
      { type: 'object', properties: { not: { $ref: '#/$defs/Condition' }, name: { type: 'string' }, priority: { type: 'integer', minimum: 1 } }, required: ['not'], additionalProperties: false },
    ],
  },
  LeafCondition: {
    type: 'object',
    properties: {
      fact: { type: 'string', minLength: 1 },
      operator: { type: 'string', description: 'equal, notEqual, in, notIn, contains, doesNotContain, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive, present (value true: the field is there and not null; false: absent or null), a decorated form (everyFact:equal) or a custom operator' },
      value: {},
      path: { type: 'string', description: 'JSONPath, e.g. $.status' },
      params: { type: 'object' },
      name: { type: 'string' },
      priority: { type: 'integer', minimum: 1 },
    },
    required: ['fact', 'operator', 'value'],
    additionalProperties: false,
  },
};

/**
 * JSON Schema (draft 2020-12) of a rule document as `validator` accepts it, generated from the same
 * zod schema. Checks that need code (operators, templates, URLs, limits) are described, not encoded.
 */
const CATEGORY_JSON = {
  enum: [...MESSAGE_CATEGORIES],
  description: 'What the message is for, as the contact policy reads it: transactional skips caps and quiet hours (never suppression); marketing (the default) is held to both',
};

export function ruleJsonSchema(validator: RuleValidator): Record<string, unknown> {
  const schema = z.toJSONSchema(validator.schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const hint = JSON_SCHEMA_HINTS.get(ctx.zodSchema as unknown as z.ZodType);
      if (hint === 'recipient') Object.assign(ctx.jsonSchema, { anyOf: [{ type: 'string' }, FACT_REFERENCE_JSON] });
      if (hint === 'conditionGroup') Object.assign(ctx.jsonSchema, { $ref: '#/$defs/ConditionGroup' });
      if (hint === 'action') {
        for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
        Object.assign(ctx.jsonSchema, { $ref: '#/$defs/Action' });
      }
    },
  }) as Record<string, unknown>;
  delete schema['$schema'];
  const variants = Object.entries(validator.builtInParams).map(([type, params]) => {
    const json = z.toJSONSchema(params, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', override: (ctx) => {
      if (JSON_SCHEMA_HINTS.get(ctx.zodSchema as unknown as z.ZodType) === 'recipient') Object.assign(ctx.jsonSchema, { anyOf: [{ type: 'string' }, FACT_REFERENCE_JSON] });
    } }) as Record<string, unknown>;
    delete json['$schema'];
    return { type: 'object', properties: { type: { const: type }, params: json, category: CATEGORY_JSON }, required: ['type', 'params'], additionalProperties: false };
  });
  const custom = { type: 'object', description: 'An action of a custom type, validated by its gateway', properties: { type: { type: 'string' }, params: { type: 'object' }, category: CATEGORY_JSON }, required: ['type', 'params'], additionalProperties: false };
  schema['$defs'] = { ...(schema['$defs'] as Record<string, unknown> | undefined), ...CONDITION_DEFS, Action: { anyOf: [...variants, custom] } };
  return schema;
}
