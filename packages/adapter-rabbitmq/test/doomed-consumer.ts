// A consumer process the crash test kills with SIGKILL mid-handle: it prints "ready" once consuming
// and "received" when the first event arrives, then never finishes the handler.
import { requiredEnv, runDoomedConsumer } from '@crm-automation/testing';
import { createRabbitBus } from '../src/index.js';

const bus = createRabbitBus({
  url: requiredEnv('RABBITMQ_URL'),
  exchange: requiredEnv('CRASH_EXCHANGE'),
  queuePrefix: requiredEnv('CRASH_QUEUE_PREFIX'),
  retryDelaysMs: JSON.parse(requiredEnv('CRASH_RETRY_DELAYS')) as number[],
  queueType: requiredEnv('CRASH_QUEUE_TYPE') === 'classic' ? 'classic' : 'quorum',
});
await runDoomedConsumer(bus, requiredEnv('CRASH_GROUP'));
