import { BUS_ERRORS, BusError, hasErrorBrand } from '@crm-automation/core/spi';

const BRAND = Symbol.for('crm-automation.rabbitmq-bus-error');

const RABBIT_BUS_ERRORS = BUS_ERRORS.pick('CRM_ERR_BUS_PUBLISH', 'CRM_ERR_BUS_UNROUTABLE', 'CRM_ERR_BUS_SUBSCRIBE', 'CRM_ERR_BUS_CLOSED');

/** Stable codes of {@link RabbitBusError}: every bus code of core's SPI (`BUS_ERROR_CODES`), with the same meanings. */
export const RABBIT_BUS_ERROR_CODES = RABBIT_BUS_ERRORS.codes;

export type RabbitBusErrorCode = keyof typeof RABBIT_BUS_ERROR_CODES;

/**
 * What the RabbitMQ bus throws. `retryable` says whether the same publish may succeed later: a
 * timeout or an unroutable event may, a closed bus will not.
 */
export class RabbitBusError extends BusError<RabbitBusErrorCode> {
  private readonly [BRAND] = true;

  constructor(code: RabbitBusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'RabbitBusError';
  }
}

export function isRabbitBusError(value: unknown): value is RabbitBusError {
  return hasErrorBrand(value, BRAND);
}
