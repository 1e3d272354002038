// What the Suppressions screen writes when a person adds or lifts an entry by hand. Pure: no DOM.
import type { SuppressionEntry } from '../api/types.js';

/**
 * A lift from the screen: recorded as made in the Management UI (`source: 'ui'`); who made it is the
 * signed-in key's owner, which the API records itself.
 */
export const UI_LIFT = { reason: 'manual', source: 'ui', detail: 'lifted in the Management UI' } as const satisfies SuppressionEntry;

/** An entry added from the screen, with the person's note (if any) for the audit trail. */
export function uiSuppressionEntry(note: string): SuppressionEntry {
  const detail = note.trim();
  return { reason: 'manual', source: 'ui', ...(detail === '' ? {} : { detail }) };
}
