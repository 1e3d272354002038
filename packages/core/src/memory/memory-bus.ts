import { checkOptions, optionKeys } from '../config/check-options.js';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { AutomationEvent } from '../events/event.js';
import { accountOfMessage } from '../intake/delivery-policy.js';
import { runBusHandler } from '../spi/bus-consumer.js';
import { DEFAULT_DEAD_LETTER_LIST_LIMIT } from '../spi/dead-letter-records.js';
import type {
  BusHandler,
  BusStats,
  BusSubscription,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterQueue,
  EventBus,
  SubscribeOptions,
} from '../ports/bus.js';

export interface MemoryBusOptions {
  /** Deliveries of one message before it is dead-lettered. */
  maxAttempts?: number | undefined;
  /** First redelivery delay; doubles on each further attempt. */
  retryDelayMs?: number | undefined;
}

interface Message {
  id: string;
  body: unknown;
  headers: Record<string, string>;
  attempt: number;
}

interface Consumer {
  handler: BusHandler;
  active: boolean;
  inflight: Set<Promise<void>>;
}

interface Group {
  name: string;
  consumers: Consumer[];
  next: number;
  backlog: Message[];
}

export interface MemoryBus extends EventBus {
  readonly local: true;
  stats(): Promise<BusStats>;
  readonly deadLetters: DeadLetterQueue;
  /** Publishes raw text as a broker would receive it; text that is not JSON is dead-lettered. */
  publishRaw(text: string, headers?: Record<string, string>): Promise<void>;
  /** Resolves when no delivery or redelivery is in progress or scheduled. */
  idle(): Promise<void>;
}


/**
 * An in-process bus with the semantics of the real ones: consumer groups with competing consumers,
 * acknowledgement after the handler resolves, redelivery with backoff, a dead-letter queue and replay.
 * Messages cross it as JSON, as they would cross a broker. `publish()` resolves once the first
 * delivery attempt has finished, so in-process intake has stored the triggers when it returns.
 */
export function createMemoryBus(options: MemoryBusOptions = {}): MemoryBus {
  checkOptions('createMemoryBus', options, optionKeys<MemoryBusOptions>()('maxAttempts', 'retryDelayMs'));
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 50;
  const groups = new Map<string, Group>();
  const unrouted: Message[] = [];
  const dead: Array<DeadLetter & { group: string | undefined; raw: Message }> = [];
  const scheduled = new Set<ReturnType<typeof setTimeout>>();
  const activity = new EventEmitter<{ idle: [] }>();
  let busy = 0;
  let closed = false;

  const track = async (work: Promise<void>) => {
    busy += 1;
    try {
      await work;
    } finally {
      busy -= 1;
      if (busy === 0 && scheduled.size === 0) activity.emit('idle');
    }
  };

  const deadLetter = (group: string | undefined, message: Message, reason: string) => {
    dead.push({
      id: message.id,
      message: message.body,
      reason,
      attempts: message.attempt,
      deadAt: new Date(),
      accountId: accountOfMessage(message.body),
      group,
      raw: message,
    });
  };

  const pickConsumer = (group: Group): Consumer | undefined => {
    const active = group.consumers.filter((c) => c.active);
    if (active.length === 0) return undefined;
    const consumer = active[group.next % active.length];
    group.next += 1;
    return consumer;
  };

  const deliver = (group: Group, message: Message): Promise<void> => {
    const consumer = pickConsumer(group);
    if (!consumer) {
      group.backlog.push(message);
      return Promise.resolve();
    }
    const work = (async () => {
      const outcome = await runBusHandler(consumer.handler, message.body, { attempt: message.attempt, headers: message.headers }, maxAttempts);
      if (outcome.action === 'handled') return;
      if (outcome.action === 'dead-letter') return deadLetter(group.name, message, outcome.reason);
      const timer = setTimeout(() => {
        scheduled.delete(timer);
        void track(deliver(group, { ...message, attempt: message.attempt + 1 }));
      }, retryDelayMs * 2 ** (message.attempt - 1));
      timer.unref?.();
      scheduled.add(timer);
    })();
    consumer.inflight.add(work);
    void work.finally(() => consumer.inflight.delete(work));
    return work;
  };

  const route = async (message: Message, only?: string) => {
    if (closed) throw new Error('bus is closed');
    if (groups.size === 0) {
      unrouted.push(message);
      return;
    }
    const targets = only ? [groups.get(only)].filter((g): g is Group => g !== undefined) : [...groups.values()];
    await track(Promise.all(targets.map((g) => deliver(g, { ...message }))).then(() => undefined));
  };

  const bus: MemoryBus = {
    local: true,

    async publish(event: AutomationEvent, publishOptions) {
      await route({ id: randomUUID(), body: JSON.parse(JSON.stringify(event)) as unknown, headers: { ...publishOptions?.headers }, attempt: 1 });
    },

    async publishRaw(text, headers = {}) {
      const message: Message = { id: randomUUID(), body: text, headers, attempt: 1 };
      try {
        message.body = JSON.parse(text) as unknown;
      } catch {
        deadLetter(undefined, message, 'message is not valid JSON');
        return;
      }
      await route(message);
    },

    async subscribe(handler, subscribeOptions: SubscribeOptions = {}): Promise<BusSubscription> {
      const name = subscribeOptions.group ?? 'default';
      let group = groups.get(name);
      if (!group) groups.set(name, (group = { name, consumers: [], next: 0, backlog: [] }));
      const consumer: Consumer = { handler, active: true, inflight: new Set() };
      group.consumers.push(consumer);
      const waiting = [...group.backlog, ...unrouted.splice(0)];
      group.backlog = [];
      for (const message of waiting) void track(deliver(group, message));
      const owner = group;
      return {
        async stop() {
          consumer.active = false;
          await Promise.allSettled([...consumer.inflight]);
          owner.consumers = owner.consumers.filter((c) => c !== consumer);
        },
      };
    },

    deadLetters: {
      async list(filter: DeadLetterFilter = {}) {
        return dead
          .filter((d) => filter.accountId === undefined || d.accountId === filter.accountId)
          .slice(0, filter.limit ?? DEFAULT_DEAD_LETTER_LIST_LIMIT)
          .map(({ group: _g, raw: _r, ...letter }) => ({ ...letter }));
      },
      async replay(filter = {}) {
        const chosen = dead.filter((d) => filter.accountId === undefined || d.accountId === filter.accountId).slice(0, filter.limit ?? Number.POSITIVE_INFINITY);
        if (filter.dryRun) return chosen.length;
        for (const letter of chosen) dead.splice(dead.indexOf(letter), 1);
        for (const letter of chosen) {
          if (typeof letter.raw.body === 'string') {
            await bus.publishRaw(letter.raw.body, letter.raw.headers);
          } else {
            await route({ ...letter.raw, attempt: 1 }, letter.group);
          }
        }
        return chosen.length;
      },
    },

    async stats() {
      return {
        backlog: [...groups.values()].map((g) => ({ name: g.name, messages: g.backlog.length, consumers: g.consumers.filter((c) => c.active).length })),
        deadLetters: dead.length,
      };
    },

    idle() {
      if (busy === 0 && scheduled.size === 0) return Promise.resolve();
      return new Promise((resolve) => activity.once('idle', resolve));
    },

    async close() {
      closed = true;
      for (const timer of scheduled) clearTimeout(timer);
      scheduled.clear();
      for (const group of groups.values()) {
        for (const consumer of group.consumers) consumer.active = false;
        await Promise.allSettled(group.consumers.flatMap((c) => [...c.inflight]));
      }
    },
  };
  return bus;
}
