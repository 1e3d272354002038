import { BUS_ERRORS, BusError, hasErrorBrand } from '@crm-automation/core/spi';

const BRAND = Symbol.for('crm-automation.kafka-bus-error');

// Kafka has no unroutable events: a topic takes whatever is published to it.
const KAFKA_BUS_ERRORS = BUS_ERRORS.pick('CRM_ERR_BUS_PUBLISH', 'CRM_ERR_BUS_SUBSCRIBE', 'CRM_ERR_BUS_CLOSED');

/** Stable codes of {@link KafkaBusError}: the bus codes of core's SPI (`BUS_ERROR_CODES`) Kafka raises, with the same meanings. */
export const KAFKA_BUS_ERROR_CODES = KAFKA_BUS_ERRORS.codes;

export type KafkaBusErrorCode = keyof typeof KAFKA_BUS_ERROR_CODES;

/**
 * What the Kafka bus throws. `retryable` says whether the same publish may succeed later: a
 * timeout may, a closed bus will not.
 */
export class KafkaBusError extends BusError<KafkaBusErrorCode> {
  private readonly [BRAND] = true;

  constructor(code: KafkaBusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'KafkaBusError';
  }
}

export function isKafkaBusError(value: unknown): value is KafkaBusError {
  return hasErrorBrand(value, BRAND);
}
