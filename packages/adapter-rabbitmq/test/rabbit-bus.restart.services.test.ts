import { afterAll, beforeAll, expect } from 'vitest';
import { createRecordingLogger, describeBrokerRestart } from '@crm-automation/testing';
import { rabbitSubject, requireRabbit, restartRabbit } from './rabbit-subject.js';

beforeAll(requireRabbit);

const logger = createRecordingLogger();

describeBrokerRestart('RabbitMQ bus', () => rabbitSubject({ publishTimeoutMs: 120_000, logger }), restartRabbit);

afterAll(() => {
  // The stream really went through an outage: the connection dropped, came back, and consuming resumed.
  expect(logger.messages).toContain('RabbitMQ connection lost; reconnecting');
  expect(logger.messages).toContain('RabbitMQ connection restored');
  expect(logger.messages).toContain('RabbitMQ consumer resumed');
});
