import { AutomationError } from '../errors.js';
import type { EngineStores } from './engine-stores.js';
import { withDeadline } from '../spi/deadline.js';

/** Methods that are subscriptions or lifecycle, not requests: they get no deadline. */
const UNBOUNDED = new Set<PropertyKey>(['watchDue', 'close', 'capabilities', 'then']);

/**
 * Stores whose every request settles within the process, without I/O (the memory stores): none can be
 * lost by a driver, so a deadline would only cost each call a timer and two promises (on the in-memory
 * fire path, about a tenth of its CPU per trigger). Held by identity, so neither a copy
 * (`{ ...store, getRule }`) nor a proxy in front of one (which may lose requests) passes as one.
 */
const inProcessStores = new WeakSet<object>();

/** Declares `store` (this very object) in-process: {@link withStoreDeadlines} hands it back unwrapped. */
export function declareInProcessStore<T extends object>(store: T): T {
  inProcessStores.add(store);
  return store;
}

/**
 * The same store (or ledger), with every request bounded by `timeoutMs`: a call that has not settled
 * by then rejects with a retryable `CRM_ERR_STORE_TIMEOUT`. A driver can leave a request unanswered
 * forever (a socket closed under a write it never fails), and one such call must not hold a claim-loop
 * pass, and with it every later trigger, for good: with a deadline the pass fails like any store
 * failure, the loop backs off and goes on, and what the stuck call held comes back when its lease
 * expires. The request itself is not cancelled; whatever it writes late is guarded by lease tokens and
 * state guards like any late write.
 */
export function withStoreDeadlines<T extends object>(target: T, timeoutMs: number, name: string): T {
  if (inProcessStores.has(target)) return target;
  const bounded = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== 'function' || UNBOUNDED.has(key)) return value;
      let wrapped = bounded.get(key);
      if (!wrapped) {
        const method = value as (...args: unknown[]) => unknown;
        wrapped = (...args: unknown[]): unknown => {
          const result = method.apply(object, args);
          if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') return result;
          return withDeadline(Promise.resolve(result), Date.now() + timeoutMs, () => new AutomationError('CRM_ERR_STORE_TIMEOUT', `${name}.${String(key)} did not answer within ${timeoutMs} ms`, { retryable: true }));
        };
        bounded.set(key, wrapped);
      }
      return wrapped;
    },
  });
}

/** The engine's stores with {@link withStoreDeadlines} on every one it calls (those given stay as given). */
export function boundStores(stores: EngineStores, timeoutMs: number): EngineStores {
  return {
    ...stores,
    rules: withStoreDeadlines(stores.rules, timeoutMs, 'ruleStore'),
    triggers: withStoreDeadlines(stores.triggers, timeoutMs, 'triggerStore'),
    source: withStoreDeadlines(stores.source, timeoutMs, 'ruleSource'),
  };
}
