// A consumer process the crash test kills with SIGKILL mid-handle: it prints "ready" once its group
// joined and "received" when the first event arrives, then never finishes the handler.
import { createKafkaBus } from '../src/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const bus = createKafkaBus({
  brokers: env('KAFKA_BROKERS'),
  topic: env('CRASH_TOPIC'),
  retryDelaysMs: JSON.parse(env('CRASH_RETRY_DELAYS')) as number[],
  // The broker's minimum: the group notices this member is gone 6 s after it dies.
  sessionTimeoutMs: 6_000,
});
await bus.subscribe(
  async () => {
    process.stdout.write('received\n');
    await new Promise(() => {});
  },
  { group: env('CRASH_GROUP') },
);
process.stdout.write('ready\n');
