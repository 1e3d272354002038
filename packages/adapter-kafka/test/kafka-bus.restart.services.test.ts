import { afterAll, beforeAll, expect } from 'vitest';
import { createRecordingLogger, describeBrokerRestart } from '@crm-automation/testing';
import { kafkaSubject, requireKafka, restartKafka } from './kafka-subject.js';

beforeAll(requireKafka);

const logger = createRecordingLogger();

describeBrokerRestart('Kafka bus', () => kafkaSubject({ publishTimeoutMs: 120_000, logger }), restartKafka);

afterAll(() => {
  // The stream really went through an outage: kafkajs lost its connections while the test published.
  expect(logger.messages.some((m) => m.includes('ECONNREFUSED'))).toBe(true);
});
