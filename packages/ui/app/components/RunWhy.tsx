import type { Trigger } from '../api/types.js';
import { cancelRequestedText, runEndReason } from '../model/run-outcome.js';

/** Why a keyed run was cancelled, replaced or skipped, or that a cancel waits for it: in the run's row, without opening its history. */
export function RunWhy({ trigger }: { trigger: Trigger }) {
  const why = cancelRequestedText(trigger) ?? runEndReason(trigger);
  return why ? <p class="run__why">{why}</p> : null;
}
