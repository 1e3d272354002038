import type { EventBus } from '@crm-automation/core';

/**
 * Records every consumer group `bus` is subscribed to from now on (the `group` option, or
 * `defaultGroup` when a subscription names none), so a test can delete the queues, topics or
 * offsets those groups left on a real broker. Returns the set it keeps adding to, seeded with `known`.
 */
export function trackSubscribedGroups(bus: EventBus, defaultGroup: string, known: Iterable<string> = []): Set<string> {
  const groups = new Set<string>(known);
  const subscribe = bus.subscribe.bind(bus);
  bus.subscribe = (handler, options) => {
    groups.add(options?.group ?? defaultGroup);
    return subscribe(handler, options);
  };
  return groups;
}
