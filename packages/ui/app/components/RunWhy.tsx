import type { Trigger } from '../api/types.js';
import { cancelRequestedText, deferredRunText, runEndReason } from '../model/run-outcome.js';

/** Why a keyed run was cancelled, replaced or skipped, that a cancel waits for it, or why the contact policy holds it: in the run's row, without opening its history. */
export function RunWhy({ trigger }: { trigger: Trigger }) {
  const why = cancelRequestedText(trigger) ?? runEndReason(trigger) ?? deferredRunText(trigger);
  return why ? <p class="run__why">{why}</p> : null;
}
