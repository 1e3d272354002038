// A consumer process the crash test kills with SIGKILL mid-handle: it prints "ready" once its group
// joined and "received" when the first event arrives, then never finishes the handler.
import { requiredEnv, runDoomedConsumer } from '@crm-automation/testing';
import { createKafkaBus } from '../src/index.js';

const bus = createKafkaBus({
  brokers: requiredEnv('KAFKA_BROKERS'),
  topic: requiredEnv('CRASH_TOPIC'),
  retryDelaysMs: JSON.parse(requiredEnv('CRASH_RETRY_DELAYS')) as number[],
  // The broker's minimum: the group notices this member is gone 6 s after it dies.
  sessionTimeoutMs: 6_000,
});
await runDoomedConsumer(bus, requiredEnv('CRASH_GROUP'));
