export { createRabbitBus } from './create-rabbit-bus.js';
export type { RabbitBus } from './create-rabbit-bus.js';
export type { RabbitBusOptions } from './options.js';
export type { RabbitDeadLetter, RabbitDeadLetterFilter, RabbitDeadLetterQueue } from './dead-letters.js';
export { RabbitBusError, isRabbitBusError, RABBIT_BUS_ERROR_CODES } from './bus-error.js';
export type { RabbitBusErrorCode } from './bus-error.js';
