import { beforeAll } from 'vitest';
import { describeBusContract } from '@crm-automation/testing';
import { kafkaSubject, requireKafka } from './kafka-subject.js';

beforeAll(requireKafka);

describeBusContract(
  'Kafka bus',
  ({ maxAttempts, retryDelayMs }) => kafkaSubject({ maxAttempts, retryDelaysMs: [retryDelayMs, retryDelayMs * 2], publishTimeoutMs: 20_000 }),
  { timeoutMs: 90_000 },
);
