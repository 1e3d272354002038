import { CodedError } from './coded-error.js';
import { defineErrorCodes } from './error-registry.js';

/**
 * The codes every broker-backed event bus throws with, one meaning each whatever the broker; an
 * adapter that cannot raise one of them exports the subset it raises (`BUS_ERRORS.pick(...)`).
 */
export const BUS_ERRORS = defineErrorCodes({
  CRM_ERR_BUS_PUBLISH:
    'The broker did not confirm the event (RabbitMQ publisher confirm, Kafka acks=all) before the publish timeout: unreachable, blocked or refusing it.',
  CRM_ERR_BUS_UNROUTABLE: 'No queue is bound for the event (no consumer group declared yet); it was not stored.',
  CRM_ERR_BUS_SUBSCRIBE: 'The consumer could not start consuming (reach the broker, join its group) before the timeout.',
  CRM_ERR_BUS_CLOSED: 'The bus is closed.',
});

export const BUS_ERROR_CODES = BUS_ERRORS.codes;

export type BusErrorCode = keyof typeof BUS_ERROR_CODES;

/**
 * Base of what a bus adapter throws: `retryable` says whether the same call may succeed later: a
 * timeout or an unroutable event may, a closed bus will not. Adapters subclass it with their name
 * and brand (`RabbitBusError`, `KafkaBusError`).
 */
export abstract class BusError<Code extends BusErrorCode = BusErrorCode> extends CodedError<Code> {
  constructor(code: Code, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, retryable: code !== 'CRM_ERR_BUS_CLOSED' });
  }
}
