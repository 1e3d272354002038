import { checkOptions, optionKeys } from '../config/check-options.js';
import { checkOptionShapes, type OptionShape } from '../config/option-shapes.js';
import { AutomationError } from '../errors.js';
import type { ActionCommand, ChannelGateway } from '../ports/gateway.js';
import type { IdempotencyStore } from '../ports/idempotency.js';

export interface IdempotencyOptions {
  /** How long a reservation blocks other senders if its holder dies mid-send. */
  lockMs?: number | undefined;
  /** How long a sent key is remembered. */
  ttlMs?: number | undefined;
}

export const DEFAULT_IDEMPOTENCY_LOCK_MS = 60_000;
export const DEFAULT_IDEMPOTENCY_TTL_MS = 7 * 86_400_000;

/** The key of a command: `metadata.idempotencyKey`, else `triggerId:actionIndex`. */
export function idempotencyKeyOf(command: ActionCommand): string {
  const m = command.metadata;
  return m.idempotencyKey || `${m.triggerId}:${m.actionIndex}`;
}

/**
 * Wraps a gateway so each idempotency key reaches the provider at most once while remembered: a key
 * already sent returns the stored result; a key held by another sender fails as transient, so the
 * caller retries later and then sees the stored result.
 *
 * Remaining window: a process that dies after the provider accepted the command but before
 * `complete` leaves the key reserved until `lockMs` passes; the retry then sends again. Gateways that
 * accept a provider-side idempotency key (webhook-id, SendGrid custom args) narrow that window further.
 */
// Wrapping a value that is not a gateway, or a store that is not one, would fail on every send instead.
const WRAPPED_PORTS: Readonly<Record<string, OptionShape>> = {
  gateway: { kind: 'port', what: 'a gateway (with send)', methods: ['send'] },
  store: { kind: 'port', what: 'an idempotency store (createMemoryIdempotencyStore(), ...)', methods: ['acquire', 'complete', 'release'] },
};

function durationOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new AutomationError('CRM_ERR_CONFIG', `withIdempotency: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

export function withIdempotency<G extends ChannelGateway>(gateway: G, store: IdempotencyStore, options: IdempotencyOptions = {}): G {
  checkOptions('withIdempotency', options, optionKeys<IdempotencyOptions>()('lockMs', 'ttlMs'));
  if (gateway === undefined || store === undefined) throw new AutomationError('CRM_ERR_CONFIG', 'withIdempotency(gateway, store, options?) needs a gateway and an idempotency store');
  checkOptionShapes('withIdempotency', { gateway, store }, WRAPPED_PORTS);
  const lockMs = durationOption('lockMs', options.lockMs, DEFAULT_IDEMPOTENCY_LOCK_MS);
  const ttlMs = durationOption('ttlMs', options.ttlMs, DEFAULT_IDEMPOTENCY_TTL_MS);
  const wrapped: ChannelGateway = {
    ...gateway,
    async send(command, context) {
      const key = idempotencyKeyOf(command);
      const reservation = await store.acquire(key, lockMs);
      if (reservation.state === 'done') return reservation.result;
      if (reservation.state === 'in-flight') {
        throw new AutomationError('CRM_ERR_IDEMPOTENCY_IN_FLIGHT', `command ${key} is being sent by another worker`, { retryable: true });
      }
      let result: unknown;
      try {
        result = await gateway.send(command, context);
      } catch (error) {
        await store.release(key).catch(() => {});
        throw error;
      }
      // The provider accepted it: a failure to record must not turn into a resend. The engine also
      // records sent actions on the trigger, so only the lock's expiry window remains exposed.
      await store.complete(key, result ?? null, ttlMs).catch(() => undefined);
      return result;
    },
  };
  return wrapped as G;
}
