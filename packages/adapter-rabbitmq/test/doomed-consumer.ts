// A consumer process the crash test kills with SIGKILL mid-handle: it prints "ready" once consuming
// and "received" when the first event arrives, then never finishes the handler.
import { createRabbitBus } from '../src/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const bus = createRabbitBus({
  url: env('RABBITMQ_URL'),
  exchange: env('CRASH_EXCHANGE'),
  queuePrefix: env('CRASH_QUEUE_PREFIX'),
  retryDelaysMs: JSON.parse(env('CRASH_RETRY_DELAYS')) as number[],
  queueType: env('CRASH_QUEUE_TYPE') === 'classic' ? 'classic' : 'quorum',
});
await bus.subscribe(
  async () => {
    process.stdout.write('received\n');
    await new Promise(() => {});
  },
  { group: env('CRASH_GROUP') },
);
process.stdout.write('ready\n');
