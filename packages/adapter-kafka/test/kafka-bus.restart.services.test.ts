import { afterAll, beforeAll, expect } from 'vitest';
import { describeBrokerRestart } from '@crm-automation/testing';
import { recordingLogger } from './recording-logger.js';
import { kafkaSubject, requireKafka, restartKafka } from './kafka-subject.js';

beforeAll(requireKafka);

const logger = recordingLogger();

describeBrokerRestart('Kafka bus', () => kafkaSubject({ publishTimeoutMs: 120_000, logger }), restartKafka);

afterAll(() => {
  // The stream really went through an outage: kafkajs lost its connections while the test published.
  expect(logger.messages.some((m) => m.includes('ECONNREFUSED'))).toBe(true);
});
