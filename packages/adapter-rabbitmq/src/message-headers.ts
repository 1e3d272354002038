/**
 * The header of a mandatory publish that matches the broker's `basic.return` to the publish it
 * answers (see `ConfirmedChannel`); never copied onto a retry or dead letter.
 */
export const PUBLISH_ID_HEADER = 'x-crm-publish-id';

/**
 * Headers that are not the publisher's: the bus's own (`x-crm-*`, core's `BUS_HEADER`) and RabbitMQ's
 * bookkeeping (the dead-lettering history the TTL retry queues add, the quorum delivery count).
 */
export const RESERVED_HEADERS = /^(x-crm-|x-death$|x-first-death-|x-last-death-|x-delivery-count$)/;

/**
 * A message's headers for a copy of it (retry, dead letter): without RabbitMQ's dead-lettering
 * history, which would grow with every retry round, and without the original's publish id.
 */
export function withoutBrokerHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key === 'x-death' || key.startsWith('x-first-death') || key.startsWith('x-last-death') || key === PUBLISH_ID_HEADER) continue;
    out[key] = value;
  }
  return out;
}
