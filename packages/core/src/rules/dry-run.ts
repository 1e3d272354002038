import { describeError, type ValidationIssue } from '../errors.js';
import type { ActionCommand } from '../ports/gateway.js';
import type { ConditionTrace, ErrorSummary } from '../scheduling/trigger.js';
import { compileRule } from './compiled-rule.js';
import type { OperatorFn } from './operators.js';
import { delayToMs, type Rule } from './rule.js';

/** A sample event to try a rule against. */
export interface DryRunSample {
  payload: Record<string, unknown>;
  /** Event name; defaults to the rule's. A different name is reported, not refused. */
  name?: string | undefined;
  /** When the event happened; defaults to now. */
  timestamp?: Date | string | number | undefined;
}

export interface DryRunCommand {
  index: number;
  type: string;
  /** The command exactly as the gateway would receive it (ids are placeholders for an unsaved trigger). */
  command?: ActionCommand | undefined;
  error?: ErrorSummary | undefined;
}

export type DryRunResult =
  | { valid: false; issues: ValidationIssue[] }
  | {
      valid: true;
      /** Whether an event of the sample's name would trigger the rule at all. */
      eventMatches: boolean;
      enabled: boolean;
      /** When the trigger would be evaluated: event time + delay. */
      evaluateAt: Date;
      matched: boolean;
      conditions: ConditionTrace[];
      /** Rendered commands, when the conditions pass. Nothing is sent. */
      commands: DryRunCommand[];
      error?: ErrorSummary | undefined;
    };

/** Evaluates and renders a rule against a sample event without storing or sending anything. */
export async function dryRunRule(rule: Rule, sample: DryRunSample, now: Date, operators: ReadonlyMap<string, OperatorFn>): Promise<DryRunResult> {
  const timestamp = sample.timestamp === undefined ? now : new Date(sample.timestamp);
  const base = {
    valid: true as const,
    eventMatches: (sample.name ?? rule.trigger.eventName) === rule.trigger.eventName,
    enabled: rule.enabled,
    evaluateAt: new Date(timestamp.getTime() + delayToMs(rule.delay)),
  };
  const compiled = compileRule(rule, operators);
  let evaluation;
  try {
    evaluation = await compiled.evaluate(sample.payload);
  } catch (error) {
    return { ...base, matched: false, conditions: [], commands: [], error: describeError(error, 'CRM_ERR_EVALUATION') as ErrorSummary };
  }
  const commands: DryRunCommand[] = [];
  if (evaluation.matched) {
    for (let index = 0; index < compiled.actionCount; index++) {
      const type = compiled.actionType(index);
      try {
        const rendered = compiled.render(index, sample.payload);
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
  return { ...base, matched: evaluation.matched, conditions: evaluation.conditions, commands };
}
