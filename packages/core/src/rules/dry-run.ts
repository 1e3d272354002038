import { BUILT_IN_COMMAND_SCHEMAS, checkCommandParams, isBuiltInActionType } from '../actions/built-in.js';
import { describeError, type ValidationIssue } from '../errors.js';
import type { ActionCommand, ParamsSchema } from '../ports/gateway.js';
import type { ConditionTrace, ErrorSummary, ScheduleNote, TriggerSchedule } from '../scheduling/trigger.js';
import { computeDueTime, type ScheduleSkipReason } from '../scheduling/schedule.js';
import { compileRule } from './compiled-rule.js';
import type { OperatorFn } from './operators.js';
import { delayToMs, type Rule } from './rule.js';
import { currentFactsOf } from './rule-facts.js';
import { withEventValues } from '../scheduling/current-facts.js';

/** A sample event to try a rule against. */
export interface DryRunSample {
  payload: Record<string, unknown>;
  /** Event name; defaults to the rule's. A different name is reported, not refused. */
  name?: string | undefined;
  /** When the event happened; defaults to now. */
  timestamp?: Date | string | number | undefined;
  /**
   * Current-state sample (fact name → value), for rules that evaluate facts on current state: each
   * fact the rule evaluates current takes its value from here (`null` plays a loader that found no
   * entity: `skipped: 'entity-missing'`); one not given here keeps the event's value. Ignored for
   * facts the rule evaluates on the event.
   */
  current?: Record<string, unknown> | undefined;
}

export interface DryRunCommand {
  index: number;
  type: string;
  /** The command exactly as the gateway would receive it (ids are placeholders for an unsaved trigger). */
  command?: ActionCommand | undefined;
  error?: ErrorSummary | undefined;
  /**
   * What the account's contact policy would do to this send at `evaluateAt` (engines with a contact
   * policy store): `skipped: suppressed`, `deferred: quiet-hours` until the window ends, or `counted`
   * against the channel's caps (whether a cap would be full then is not known ahead).
   */
  contactPolicy?: DryRunContact | undefined;
}

export type DryRunContact =
  | { outcome: 'skipped'; reason: 'suppressed' }
  | { outcome: 'deferred'; reason: 'quiet-hours'; until: Date }
  | { outcome: 'counted'; caps: Array<{ max: number; per: 'hour' | 'day' | 'week' }> };

export type DryRunResult =
  | { valid: false; issues: ValidationIssue[] }
  | {
      valid: true;
      /** Whether an event of the sample's name would trigger the rule at all. */
      eventMatches: boolean;
      enabled: boolean;
      /** When the trigger would be evaluated: event time + delay, or the schedule's due time. */
      evaluateAt: Date;
      /**
       * Scheduled rules: the due time in the recipient's zone and in UTC, the zone used and where it
       * came from, and why it differs from anchor + offset (window, DST gap or repeat, past).
       */
      schedule?: DryRunSchedule | undefined;
      matched: boolean;
      conditions: ConditionTrace[];
      /** Rendered commands, when the conditions pass. Nothing is sent. */
      commands: DryRunCommand[];
      /**
       * A run would be skipped although nothing is wrong with the rule: `entity-missing` (a fact the
       * rule evaluates current is `null` in the `current` sample) or `recipient-missing` (a recipient
       * fact reference resolves to nothing).
       */
      skipped?: 'entity-missing' | 'recipient-missing' | ScheduleSkipReason | undefined;
      /** The facts whose current value (from `current`) replaced the event's. */
      currentFacts?: string[] | undefined;
      error?: ErrorSummary | undefined;
    };

/** A scheduled rule's due time for the sample, as intake would compute it now. */
export interface DryRunSchedule {
  /** `scheduled`: a run would be due at `utc`; `skipped`: intake would record it skipped, for `reason`. */
  outcome: 'scheduled' | 'skipped';
  reason?: ScheduleSkipReason | undefined;
  message?: string | undefined;
  /** ISO 8601 in the recipient's zone, with its offset. */
  local?: string | undefined;
  /** ISO 8601 in UTC. */
  utc?: string | undefined;
  timeZone?: string | undefined;
  zoneSource?: TriggerSchedule['zoneSource'] | undefined;
  anchor?: string | undefined;
  notes: ScheduleNote[];
}

function scheduleOf(rule: Rule, payload: Record<string, unknown>, timestamp: Date, now: Date): { evaluateAt: Date; schedule?: DryRunSchedule; skipped?: ScheduleSkipReason } {
  if (!rule.schedule) return { evaluateAt: new Date(timestamp.getTime() + delayToMs(rule.delay)) };
  const due = computeDueTime(rule.schedule, { timestamp, payload }, now);
  const trace = due.schedule;
  const schedule: DryRunSchedule = {
    outcome: due.ok ? 'scheduled' : 'skipped',
    ...(due.ok ? {} : { reason: due.reason, message: due.message }),
    ...(trace.local === undefined ? {} : { local: trace.local }),
    ...(due.evaluateAt === undefined ? {} : { utc: due.evaluateAt.toISOString() }),
    ...(trace.timeZone === undefined ? {} : { timeZone: trace.timeZone }),
    ...(trace.zoneSource === undefined ? {} : { zoneSource: trace.zoneSource }),
    ...(trace.anchor === undefined ? {} : { anchor: trace.anchor }),
    notes: trace.notes ?? [],
  };
  return { evaluateAt: due.evaluateAt ?? now, schedule, ...(due.ok ? {} : { skipped: due.reason }) };
}

/** The command schema a send of `type` is checked against: the gateway's, else the built-in type's. */
export type CommandSchemaOf = (type: string) => ParamsSchema | undefined;

export const builtInCommandSchema: CommandSchemaOf = (type) => (isBuiltInActionType(type) ? BUILT_IN_COMMAND_SCHEMAS[type] : undefined);

/** The command schemas a run checks sends of `channels` against (a gateway's own first), for a dry run. */
export function gatewayCommandSchemas(channels: Readonly<Record<string, { readonly commandSchema?: ParamsSchema | undefined } | undefined>>): CommandSchemaOf {
  return (type) => (Object.prototype.hasOwnProperty.call(channels, type) ? channels[type]?.commandSchema : undefined) ?? builtInCommandSchema(type);
}

/**
 * Evaluates and renders a rule against a sample event without storing or sending anything. Each
 * rendered command goes through what a run checks before the gateway is called: the render budget
 * and the command schema (`commandSchemaOf`; the built-in types' schemas by default), so a command a
 * run would fail with `CRM_ERR_RENDER` is an error here too, not a command that looks sendable.
 */
export async function dryRunRule(rule: Rule, sample: DryRunSample, now: Date, operators: ReadonlyMap<string, OperatorFn>, commandSchemaOf: CommandSchemaOf = builtInCommandSchema): Promise<DryRunResult> {
  const timestamp = sample.timestamp === undefined ? now : new Date(sample.timestamp);
  const due = scheduleOf(rule, sample.payload, timestamp, now);
  const base = {
    valid: true as const,
    eventMatches: (sample.name ?? rule.trigger.eventName) === rule.trigger.eventName,
    enabled: rule.enabled,
    evaluateAt: due.evaluateAt,
    ...(due.schedule ? { schedule: due.schedule } : {}),
  };
  // Intake would record the run skipped: the conditions are still shown, for a rule being written.
  const scheduleSkip = due.skipped === undefined ? {} : { skipped: due.skipped };
  const compiled = compileRule(rule, operators);
  const { payload, replaced, missing } = withCurrentSample(rule, sample);
  if (missing !== undefined) return { ...base, matched: false, conditions: [], commands: [], skipped: 'entity-missing', currentFacts: replaced };
  const current = replaced.length > 0 ? { currentFacts: replaced } : {};
  let evaluation;
  try {
    evaluation = withEventValues(await compiled.evaluate(payload), new Set(replaced), sample.payload);
  } catch (error) {
    return { ...base, matched: false, conditions: [], commands: [], error: describeError(error, 'CRM_ERR_EVALUATION') as ErrorSummary, ...current };
  }
  const commands: DryRunCommand[] = [];
  let recipientMissing = false;
  if (evaluation.matched) {
    for (let index = 0; index < compiled.actionCount; index++) {
      const type = compiled.actionType(index);
      if (compiled.missingRecipient(index, payload)) recipientMissing = true;
      try {
        const rendered = compiled.render(index, payload);
        const schema = commandSchemaOf(type);
        if (schema) checkCommandParams(type, schema, rendered.params);
        commands.push({
          index,
          type,
          command: {
            type,
            params: rendered.params,
            metadata: {
              source: 'automation-engine',
              ruleId: rule.id,
              triggerId: 'dry-run',
              accountId: rule.accountId,
              actionIndex: index,
              idempotencyKey: `dry-run:${index}`,
            },
          },
        });
      } catch (error) {
        commands.push({ index, type, error: describeError(error, 'CRM_ERR_RENDER') as ErrorSummary });
      }
    }
  }
  return { ...base, matched: evaluation.matched, conditions: evaluation.conditions, commands, ...(recipientMissing ? { skipped: 'recipient-missing' as const } : {}), ...scheduleSkip, ...current };
}

/** The payload the rule would see at fire time, with the `current` sample in place of the facts it evaluates current. */
function withCurrentSample(rule: Rule, sample: DryRunSample): { payload: Record<string, unknown>; replaced: string[]; missing?: string | undefined } {
  const current = sample.current;
  if (current === undefined || rule.evaluate === undefined || rule.evaluate === 'event') return { payload: sample.payload, replaced: [] };
  const facts = new Set(currentFactsOf(rule));
  // As at fire time, `'current'` covers every fact a loader answers for; here, every fact the sample gives.
  if (rule.evaluate === 'current') for (const key of Object.keys(current)) facts.add(key);
  const replaced = [...facts].filter((fact) => Object.prototype.hasOwnProperty.call(current, fact));
  const missing = replaced.find((fact) => current[fact] === null || current[fact] === undefined);
  const payload = { ...sample.payload };
  for (const fact of replaced) payload[fact] = current[fact];
  return { payload, replaced, missing };
}
