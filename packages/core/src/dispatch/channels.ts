import type { ChannelMap } from '../ports/gateway.js';
import type { IdempotencyStore } from '../ports/idempotency.js';
import { withIdempotency, type IdempotencyOptions } from './idempotency.js';

/** The engine's gateways, each behind the idempotency store when one is configured. */
export function dispatchWithIdempotency(channels: ChannelMap, store: IdempotencyStore | undefined, options: IdempotencyOptions = {}): ChannelMap {
  if (!store) return channels;
  return Object.fromEntries(Object.entries(channels).map(([type, gateway]) => [type, withIdempotency(gateway, store, options)]));
}
