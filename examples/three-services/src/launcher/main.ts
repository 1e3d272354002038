/**
 * Starts the whole example: provider stand-ins, the CRM simulator's job API, rules service,
 * notification service and trigger service, each its own process, with prefixed, readable output.
 * Ctrl-C stops them all (trigger service first). Run from the repository root:
 * `npm run example:three-services`.
 *
 * Reads TRANSPORT (rabbitmq|kafka), RULE_LOOKUP (rest|grpc|pubsub), STORE (mongo|postgres),
 * MONGODB_URI, POSTGRES_URL, RABBITMQ_URL, KAFKA_BROKERS, REDIS_URL (defaults: the servers of
 * `scripts/services.sh up`), BUS_PREFIX, DEV_API_KEY, LOG_LEVEL, and LOG_FORMAT=json for raw JSON lines.
 * The services keep their data in their default database (MongoDB) or schema (PostgreSQL),
 * `crm_automation`, which is also the CLI's default.
 */
import { z } from 'zod';
import { loadConfig, logLevel } from '../runtime/env-config.js';
import { exampleStack, randomSecrets, type ServiceName } from './example-stack.js';
import { LAUNCHER_BUS_PREFIX, LOCAL_SERVERS } from './local-servers.js';
import { formatLogLine } from './log-lines.js';

const env = z.object({
  TRANSPORT: z.enum(['rabbitmq', 'kafka']).default('rabbitmq'),
  RULE_LOOKUP: z.enum(['rest', 'grpc', 'pubsub']).default('rest'),
  /** mongo: MongoDB for rules and triggers, Redis for sent commands; postgres: PostgreSQL for all three. */
  STORE: z.enum(['mongo', 'postgres']).default('mongo'),
  MONGODB_URI: z.string().default(LOCAL_SERVERS.MONGODB_URI),
  POSTGRES_URL: z.string().default(LOCAL_SERVERS.POSTGRES_URL),
  RABBITMQ_URL: z.string().default(LOCAL_SERVERS.RABBITMQ_URL),
  KAFKA_BROKERS: z.string().default(LOCAL_SERVERS.KAFKA_BROKERS),
  REDIS_URL: z.string().default(LOCAL_SERVERS.REDIS_URL),
  BUS_PREFIX: z.string().default(LAUNCHER_BUS_PREFIX),
  // A fixed development key, so the README's curl commands can be pasted as they are.
  DEV_API_KEY: z.string().default('crm_dev_three_services_example'),
  LOG_LEVEL: logLevel,
  LOG_FORMAT: z.enum(['pretty', 'json']).default('pretty'),
});

const config = loadConfig('launcher', env);
const color = process.stdout.isTTY === true && config.LOG_FORMAT === 'pretty';
const LABELS: Record<ServiceName, string> = { 'stand-ins': 'stand-ins   ', crm: 'crm         ', rules: 'rules       ', notification: 'notification', trigger: 'trigger     ' };
const TINTS: Record<ServiceName, string> = { 'stand-ins': '\u001b[90m', crm: '\u001b[33m', rules: '\u001b[32m', notification: '\u001b[35m', trigger: '\u001b[36m' };
const say = (line: string) => process.stdout.write(`${color ? '\u001b[1m' : ''}[launcher]${color ? '\u001b[0m' : ''}     ${line}\n`);

const stack = exampleStack({
  transport: config.TRANSPORT,
  ruleLookup: config.RULE_LOOKUP,
  store: config.STORE,
  mongodbUri: config.MONGODB_URI,
  postgresUrl: config.POSTGRES_URL,
  rabbitmqUrl: config.RABBITMQ_URL,
  kafkaBrokers: config.KAFKA_BROKERS,
  redisUrl: config.REDIS_URL,
  busPrefix: config.BUS_PREFIX,
  redisPrefix: `${config.BUS_PREFIX}:idempotency:`,
  ports: { rules: 4100, grpc: 4101, trigger: 4102, notification: 4103, standIns: 4104, crm: 4105 },
  secrets: randomSecrets(config.DEV_API_KEY),
  logLevel: config.LOG_LEVEL,
  onLine: (service, line) => {
    const text = config.LOG_FORMAT === 'json' ? line : formatLogLine(line, color);
    const label = color ? `${TINTS[service]}[${LABELS[service]}]\u001b[0m` : `[${LABELS[service]}]`;
    process.stdout.write(`${label} ${text}\n`);
  },
});

let stopping = false;
const stopAll = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stopping every service...');
  await stack.stopAll();
  say('all stopped');
  process.exit(code);
};
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

say(`starting: TRANSPORT=${config.TRANSPORT} RULE_LOOKUP=${config.RULE_LOOKUP} STORE=${config.STORE} (servers: scripts/services.sh up)`);
try {
  await stack.startAll();
} catch (error) {
  say(`a service failed to start: ${error instanceof Error ? error.message : String(error)}`);
  say('are the servers running? `scripts/services.sh up redis mongo postgres rabbitmq kafka`');
  await stopAll(1);
}
// A service that dies on its own takes the example down with it, loudly.
for (const [name, service] of Object.entries({ 'stand-ins': stack.standIns, crm: stack.crm, rules: stack.rules, notification: stack.notification, trigger: stack.trigger })) {
  void service.exited.then((code) => {
    if (!stopping) {
      say(`${name} exited unexpectedly (code ${code}); stopping the others`);
      void stopAll(1);
    }
  });
}
say(`ready. Rules API ${stack.urls.rules} (key ${config.DEV_API_KEY}), gRPC 127.0.0.1:4101, notification ${stack.urls.notification}, stand-ins ${stack.urls.standIns}/received, CRM jobs ${stack.urls.crm}/accounts/acc_12345/jobs/<id>`);
say('Ctrl-C stops everything.');
