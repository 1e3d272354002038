import { BUS_HEADER } from '@crm-automation/core/spi';
import type { IHeaders } from 'kafkajs';

/** Headers the bus itself sets: core's `BUS_HEADER`, and two only the Kafka bus needs. */
export const HEADER = {
  ...BUS_HEADER,
  /** Kafka records have no message id of their own; dead letters are listed by this one. */
  messageId: 'x-crm-message-id',
  /** Epoch ms before which a retry must not be handled (the retry topic delays by pausing until then). */
  due: 'x-crm-due',
} as const;

/** Kafka header values arrive as Buffers; the bus works with strings. */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out[key] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}
