import { TriggerStateError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { TriggerStore } from '../ports/store.js';
import { requireAccount } from './account.js';
import type { AutomationEngine } from './engine-api.js';

export interface TriggerAdminContext {
  store: TriggerStore;
  clock: Clock;
  /** Tells the claim loop a trigger is due at `at` (a manual retry is due now). */
  wake: (at: Date) => void;
}

/** `engine.triggers`: reading triggers and the user's transitions (cancel, manual retry). */
export function createTriggerAdmin(ctx: TriggerAdminContext): AutomationEngine['triggers'] {
  const { store, clock } = ctx;
  const transition = async (accountId: string, id: string, operation: 'cancel' | 'retry') => {
    const now = clock.now();
    const result = await store.transitionTrigger(requireAccount(accountId), id, {
      from: operation === 'cancel' ? ['pending', 'retrying'] : ['failed'],
      to: operation === 'cancel' ? 'cancelled' : 'pending',
      ...(operation === 'retry' ? { evaluateAt: now } : {}),
      now,
      history: {
        at: now,
        attempt: (await store.getTrigger(accountId, id))?.attempt ?? 0,
        outcome: operation === 'cancel' ? 'cancelled' : 'retry-requested',
        by: 'user',
      },
    });
    if (result.ok) {
      if (operation === 'retry') ctx.wake(now);
      return result.trigger;
    }
    if (result.reason === 'not-found') return null;
    throw new TriggerStateError(id, result.current, operation);
  };
  return {
    get: (accountId, id) => store.getTrigger(requireAccount(accountId), id),
    list: (accountId, filter = {}) => store.listTriggers(requireAccount(accountId), filter),
    cancel: (accountId, id) => transition(accountId, id, 'cancel'),
    retry: (accountId, id) => transition(accountId, id, 'retry'),
  };
}
