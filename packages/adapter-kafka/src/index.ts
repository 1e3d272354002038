export { createKafkaBus } from './create-kafka-bus.js';
export type { KafkaBus } from './create-kafka-bus.js';
export type { KafkaBusOptions } from './options.js';
export type { KafkaDeadLetter, KafkaDeadLetterFilter, KafkaDeadLetterQueue } from './dead-letters.js';
export { KafkaBusError, isKafkaBusError, KAFKA_BUS_ERROR_CODES } from './bus-error.js';
export type { KafkaBusErrorCode } from './bus-error.js';
