const BRAND = Symbol.for('crm-automation.kafka-bus-error');

/** Stable codes of {@link KafkaBusError}. */
export const KAFKA_BUS_ERROR_CODES = {
  CRM_ERR_BUS_PUBLISH: 'Kafka did not acknowledge the event (acks=all) before the publish timeout.',
  CRM_ERR_BUS_SUBSCRIBE: 'The consumer could not join its group before the timeout.',
  CRM_ERR_BUS_CLOSED: 'The bus is closed.',
} as const;

export type KafkaBusErrorCode = keyof typeof KAFKA_BUS_ERROR_CODES;

/**
 * What the Kafka bus throws. `retryable` says whether the same publish may succeed later: a
 * timeout may, a closed bus will not.
 */
export class KafkaBusError extends Error {
  readonly code: KafkaBusErrorCode;
  readonly retryable: boolean;
  private readonly [BRAND] = true;

  constructor(code: KafkaBusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafkaBusError';
    this.code = code;
    this.retryable = code !== 'CRM_ERR_BUS_CLOSED';
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isKafkaBusError(value: unknown): value is KafkaBusError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
