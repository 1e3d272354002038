/**
 * The servers `scripts/services.sh up` starts on this machine, and the bus prefix the example's
 * launcher gives its services: the defaults of `npm run example:three-services` and of
 * `npm run simulate` run next to it in a second terminal, so the README's commands work as written.
 */
export const LOCAL_SERVERS = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  POSTGRES_URL: 'postgres://postgres@127.0.0.1:5433/crm_automation',
  RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
  KAFKA_BROKERS: '127.0.0.1:9092',
  REDIS_URL: 'redis://127.0.0.1:6379',
} as const;

/** Names the launcher's exchanges, queues and topics (the services' own default is `crm-automation`). */
export const LAUNCHER_BUS_PREFIX = 'crm-example';
