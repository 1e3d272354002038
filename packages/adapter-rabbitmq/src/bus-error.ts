const BRAND = Symbol.for('crm-automation.rabbitmq-bus-error');

/** Stable codes of {@link RabbitBusError}. */
export const RABBIT_BUS_ERROR_CODES = {
  CRM_ERR_BUS_PUBLISH: 'The broker did not confirm the event before the publish timeout (unreachable, blocked or it refused it).',
  CRM_ERR_BUS_UNROUTABLE: 'No queue is bound for the event (no consumer group declared yet); it was not stored.',
  CRM_ERR_BUS_SUBSCRIBE: 'The consumer could not start consuming before the timeout.',
  CRM_ERR_BUS_CLOSED: 'The bus is closed.',
} as const;

export type RabbitBusErrorCode = keyof typeof RABBIT_BUS_ERROR_CODES;

/**
 * What the RabbitMQ bus throws. `retryable` says whether the same publish may succeed later: a
 * timeout or an unroutable event may, a closed bus will not.
 */
export class RabbitBusError extends Error {
  readonly code: RabbitBusErrorCode;
  readonly retryable: boolean;
  private readonly [BRAND] = true;

  constructor(code: RabbitBusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RabbitBusError';
    this.code = code;
    this.retryable = code !== 'CRM_ERR_BUS_CLOSED';
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isRabbitBusError(value: unknown): value is RabbitBusError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
