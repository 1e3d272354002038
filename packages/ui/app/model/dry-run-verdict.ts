import type { DryRunOk } from '../api/types.js';
import { pluralize } from '../format.js';
import type { PathIssue } from './form-fields.js';
import { parsePath } from './issue-path.js';
import { isScheduleSkipReason, SKIP_REASON_TEXT } from './run-schedule.js';

export type VerdictTone = 'success' | 'warning' | 'danger' | 'neutral';

/** The banner over a dry run's result, and why each action that would fail would. */
export interface DryRunVerdict {
  tone: VerdictTone;
  text: string;
  /** Index of each action that would fail → the reason, for people. */
  failing: ReadonlyMap<number, string>;
}

/**
 * What a dry run says, in one line. Conditions that pass are a success only when every action would go
 * out: one that cannot be rendered from this event, or that has no gateway on this engine (a save
 * warning), would fail on a real run, so the banner is then a warning that says how many.
 */
export function dryRunVerdict(result: DryRunOk, warnings: readonly PathIssue[] = []): DryRunVerdict {
  const failing = new Map<number, string>();
  if (result.error) return { tone: 'danger', text: 'The conditions could not be evaluated', failing };
  // A skip is not a fault of the rule: the run would end quietly, sending nothing.
  if (result.skipped === 'entity-missing') return { tone: 'neutral', text: 'The entity is gone (its current state is empty): the run would be skipped, nothing sent', failing };
  if (result.skipped !== undefined && isScheduleSkipReason(result.skipped)) {
    return { tone: 'neutral', text: `The schedule skips this event (${SKIP_REASON_TEXT[result.skipped].charAt(0).toLowerCase()}${SKIP_REASON_TEXT[result.skipped].slice(1)}): no run would start`, failing };
  }
  if (!result.matched) return { tone: 'neutral', text: 'Conditions fail: nothing would be sent', failing };
  for (const command of result.commands) {
    if (!command.command) failing.set(command.index, command.error?.message ?? 'It could not be rendered from this event.');
  }
  for (const warning of warnings) {
    const [section, index] = parsePath(warning.path) ?? [];
    if (section === 'actions' && typeof index === 'number' && !failing.has(index) && result.commands.some((c) => c.index === index)) failing.set(index, warning.message);
  }
  const total = result.commands.length;
  if (result.skipped === 'recipient-missing') return { tone: 'warning', text: 'Conditions pass, but a recipient is missing from this event: the run would be skipped, nothing sent', failing };
  if (failing.size === 0) return { tone: 'success', text: `Conditions pass: ${pluralize(total, 'action')} would be sent`, failing };
  const which = failing.size === total ? (total === 1 ? 'the action' : `all ${total} actions`) : `${failing.size} of ${total} actions`;
  return { tone: 'warning', text: `Conditions pass, but ${which} would fail: ${pluralize(total - failing.size, 'action')} would be sent`, failing };
}
