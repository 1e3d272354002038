import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { EXAMPLE_ROOT, ServiceProcess } from './service-process.js';

export type ServiceName = 'stand-ins' | 'crm' | 'rules' | 'notification' | 'trigger';

/** The example's Twilio number: every SMS goes from it, and replies to it belong to the development account. */
export const EXAMPLE_TWILIO_NUMBER = '+15550001111';
/** The account the development key opens, and the one replies to the example's number belong to. */
export const EXAMPLE_ACCOUNT_ID = 'acc_12345';

/** Everything that differs between one run of the example and another. */
export interface StackSettings {
  transport: 'rabbitmq' | 'kafka';
  ruleLookup: 'rest' | 'grpc' | 'pubsub';
  /** Where the rules and trigger services keep their stores. Default `mongo`. */
  store?: 'mongo' | 'postgres' | undefined;
  /** Where the notification service remembers sent commands. Default: Redis with MongoDB, PostgreSQL with PostgreSQL. */
  idempotencyStore?: 'redis' | 'postgres' | undefined;
  mongodbUri?: string | undefined;
  /** MongoDB databases of the rules and the trigger service; default the services' own (crm_automation). */
  rulesDb?: string | undefined;
  triggersDb?: string | undefined;
  postgresUrl?: string | undefined;
  /** PostgreSQL schemas of the rules, trigger and notification services; default the services' own (crm_automation). */
  rulesSchema?: string | undefined;
  triggersSchema?: string | undefined;
  idempotencySchema?: string | undefined;
  rabbitmqUrl?: string | undefined;
  kafkaBrokers?: string | undefined;
  redisUrl?: string | undefined;
  redisPrefix?: string | undefined;
  /** Names every exchange, queue and topic of this run. */
  busPrefix: string;
  /** `crm`: the CRM simulator's job API, which the trigger service's `facts.job` loader reads. */
  ports: { rules: number; grpc: number; trigger: number; notification: number; standIns: number; crm: number };
  secrets: StackSecrets;
  logLevel?: string | undefined;
  /** Extra environment per service (timeouts, backoff...). */
  env?: Partial<Record<ServiceName, Record<string, string>>> | undefined;
  onLine?: ((service: ServiceName, line: string, stream: 'stdout' | 'stderr') => void) | undefined;
}

export interface StackSecrets {
  devApiKey: string;
  /** Trigger service → rules service (REST internal routes, gRPC). */
  rulesServiceToken: string;
  /** Rules service → trigger service (the internal trigger API behind the Rules API's trigger routes). */
  triggerServiceToken: string;
  /** Trigger service → notification service. */
  notificationToken: string;
  /** Notification service → trigger service (delivery receipts for its ledger). */
  receiptsToken: string;
  /** The SendGrid stand-in signs its Event Webhook posts with this (PKCS#8 PEM, P-256)... */
  sendgridWebhookSigningKey: string;
  /** ...and the notification service verifies them with this (base64 DER, as SendGrid's settings show it). */
  sendgridWebhookPublicKey: string;
  webhookSecret: string;
  twilioAccountSid: string;
  twilioAuthToken: string;
  sendgridApiKey: string;
}

/** Fresh secrets for one run: nothing in the example is a fixed credential except the dev key, if you pass one. */
export function randomSecrets(devApiKey = `crm_dev_${randomBytes(18).toString('base64url')}`): StackSecrets {
  const webhookKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    receiptsToken: randomBytes(24).toString('base64url'),
    sendgridWebhookSigningKey: webhookKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    sendgridWebhookPublicKey: webhookKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    devApiKey,
    rulesServiceToken: randomBytes(24).toString('base64url'),
    triggerServiceToken: randomBytes(24).toString('base64url'),
    notificationToken: randomBytes(24).toString('base64url'),
    webhookSecret: `whsec_${randomBytes(32).toString('base64')}`,
    twilioAccountSid: `AC${randomBytes(16).toString('hex')}`,
    twilioAuthToken: randomBytes(16).toString('hex'),
    sendgridApiKey: `SG.${randomBytes(16).toString('base64url')}`,
  };
}

export interface ExampleStack {
  standIns: ServiceProcess;
  /** The CRM simulator's server mode: the jobs as they are now, and the events their status changes publish. */
  crm: ServiceProcess;
  rules: ServiceProcess;
  notification: ServiceProcess;
  trigger: ServiceProcess;
  urls: { rules: string; standIns: string; notification: string; trigger: string; webhook: string; crm: string };
  /** Environment of the CRM simulator's command line (and anything else publishing to this run's bus): the bus, and CRM_URL. */
  busEnv: Record<string, string>;
  /** Starts in dependency order, each once ready. */
  startAll(): Promise<void>;
  /** Stops in reverse order (the trigger service first, so it stops sending). */
  stopAll(): Promise<void>;
}

/** The four processes of the example, wired to each other for one set of settings. */
export function exampleStack(settings: StackSettings): ExampleStack {
  const host = '127.0.0.1';
  const { ports, secrets } = settings;
  const urls = {
    rules: `http://${host}:${ports.rules}`,
    standIns: `http://${host}:${ports.standIns}`,
    notification: `http://${host}:${ports.notification}`,
    trigger: `http://${host}:${ports.trigger}`,
    webhook: `http://${host}:${ports.standIns}/hooks/new-lead`,
    crm: `http://${host}:${ports.crm}`,
  };
  const transportEnv: Record<string, string> = {
    TRANSPORT: settings.transport,
    BUS_PREFIX: settings.busPrefix,
    ...(settings.rabbitmqUrl ? { RABBITMQ_URL: settings.rabbitmqUrl } : {}),
    ...(settings.kafkaBrokers ? { KAFKA_BROKERS: settings.kafkaBrokers } : {}),
  };
  const busEnv: Record<string, string> = { ...transportEnv, CRM_URL: urls.crm };
  const common = { LOG_LEVEL: settings.logLevel ?? 'info', HOST: host };
  const store = settings.store ?? 'mongo';
  const idempotencyStore = settings.idempotencyStore ?? (store === 'postgres' ? 'postgres' : 'redis');
  const required = (value: string | undefined, what: string) => {
    if (!value) throw new Error(`exampleStack: ${what} is required with these settings`);
    return value;
  };
  /** The store variables of the rules or the trigger service. */
  const storeEnv = (database: string | undefined, schema: string | undefined, dbVariable: 'RULES_DB_NAME' | 'TRIGGERS_DB_NAME'): Record<string, string> =>
    store === 'postgres'
      ? { STORE: 'postgres', POSTGRES_URL: required(settings.postgresUrl, 'postgresUrl'), ...(schema ? { POSTGRES_SCHEMA: schema } : {}) }
      : { STORE: 'mongo', MONGODB_URI: required(settings.mongodbUri, 'mongodbUri'), ...(database ? { [dbVariable]: database } : {}) };
  const idempotencyEnv: Record<string, string> =
    idempotencyStore === 'postgres'
      ? { STORE: 'postgres', POSTGRES_URL: required(settings.postgresUrl, 'postgresUrl'), ...(settings.idempotencySchema ? { POSTGRES_SCHEMA: settings.idempotencySchema } : {}) }
      : { STORE: 'redis', REDIS_URL: required(settings.redisUrl, 'redisUrl'), ...(settings.redisPrefix ? { IDEMPOTENCY_KEY_PREFIX: settings.redisPrefix } : {}) };
  const providers = {
    TWILIO_ACCOUNT_SID: secrets.twilioAccountSid,
    TWILIO_AUTH_TOKEN: secrets.twilioAuthToken,
    SENDGRID_API_KEY: secrets.sendgridApiKey,
    WEBHOOK_SIGNING_SECRET: secrets.webhookSecret,
  };
  const make = (name: ServiceName, entry: string, port: number, env: Record<string, string>) =>
    new ServiceProcess({
      name,
      entry,
      env: { ...common, ...env, ...settings.env?.[name] },
      readyUrl: `http://${host}:${port}/readyz`,
      onLine: (line, stream) => settings.onLine?.(name, line, stream),
    });

  const standIns = make('stand-ins', 'src/provider-stand-ins/main.ts', ports.standIns, {
    HTTP_PORT: String(ports.standIns),
    ...providers,
    SENDGRID_EVENT_WEBHOOK_URL: `${urls.notification}/receipts/sendgrid`,
    SENDGRID_WEBHOOK_SIGNING_KEY: secrets.sendgridWebhookSigningKey,
    // The number's "A message comes in" webhook: replies go to the trigger service, which keeps the suppressions.
    TWILIO_INBOUND_URL: `${urls.trigger}/receipts/twilio/inbound`,
    TWILIO_NUMBER: EXAMPLE_TWILIO_NUMBER,
  });
  const crm = make('crm', 'src/crm-simulator/crm-server.ts', ports.crm, { ...transportEnv, HTTP_PORT: String(ports.crm) });
  const rules = make('rules', 'src/rules-service/main.ts', ports.rules, {
    ...transportEnv,
    HTTP_PORT: String(ports.rules),
    GRPC_PORT: String(ports.grpc),
    ...storeEnv(settings.rulesDb, settings.rulesSchema, 'RULES_DB_NAME'),
    SERVICE_TOKENS: secrets.rulesServiceToken,
    TRIGGER_SERVICE_URL: urls.trigger,
    TRIGGER_SERVICE_TOKEN: secrets.triggerServiceToken,
    DEV_API_KEY: secrets.devApiKey,
    WEBHOOK_ALLOW_HOSTS: host,
  });
  const notification = make('notification', 'src/notification-service/main.ts', ports.notification, {
    HTTP_PORT: String(ports.notification),
    ...idempotencyEnv,
    SERVICE_TOKENS: secrets.notificationToken,
    ...providers,
    TWILIO_BASE_URL: urls.standIns,
    TWILIO_FROM: EXAMPLE_TWILIO_NUMBER,
    SENDGRID_BASE_URL: urls.standIns,
    SENDGRID_FROM: 'automation@example.com',
    WEBHOOK_ALLOW_HOSTS: host,
    // Receipts: Twilio calls back here, SendGrid posts its events here; both go on to the trigger service's ledger.
    PUBLIC_URL: urls.notification,
    SENDGRID_WEBHOOK_PUBLIC_KEY: secrets.sendgridWebhookPublicKey,
    TRIGGER_SERVICE_URL: urls.trigger,
    TRIGGER_SERVICE_TOKEN: secrets.receiptsToken,
  });
  const trigger = make('trigger', 'src/trigger-service/main.ts', ports.trigger, {
    ...transportEnv,
    HTTP_PORT: String(ports.trigger),
    ...storeEnv(settings.triggersDb, settings.triggersSchema, 'TRIGGERS_DB_NAME'),
    // The rules service's token, and the notification service's (receipts).
    SERVICE_TOKENS: `${secrets.triggerServiceToken},${secrets.receiptsToken}`,
    RULE_LOOKUP: settings.ruleLookup,
    RULES_SERVICE_URL: urls.rules,
    RULES_GRPC_ADDRESS: `${host}:${ports.grpc}`,
    RULES_SERVICE_TOKEN: secrets.rulesServiceToken,
    NOTIFICATION_SERVICE_URL: urls.notification,
    NOTIFICATION_SERVICE_TOKEN: secrets.notificationToken,
    CRM_URL: urls.crm,
    // Replies to the example's number (STOP / START), signed by the Twilio stand-in for the URL it posts to.
    TWILIO_AUTH_TOKEN: secrets.twilioAuthToken,
    TWILIO_ACCOUNT_SID: secrets.twilioAccountSid,
    TWILIO_NUMBERS: `${EXAMPLE_TWILIO_NUMBER}:${EXAMPLE_ACCOUNT_ID}`,
    PUBLIC_URL: urls.trigger,
  });

  // The rules service serves its trigger routes from the trigger service, but starts without it
  // (those routes answer 503 until it is up); the trigger service rides out the rules service's absence.
  const order = [standIns, crm, rules, notification, trigger];
  return {
    standIns,
    crm,
    rules,
    notification,
    trigger,
    urls,
    busEnv,
    async startAll() {
      for (const service of order) await service.start();
    },
    async stopAll() {
      for (const service of [...order].reverse()) await service.stop();
    },
  };
}

/** Runs the CRM simulator once with these arguments; resolves with its output, rejects on failure. */
export function runSimulator(busEnv: Record<string, string>, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', 'src/crm-simulator/main.ts', ...args], {
      cwd: EXAMPLE_ROOT,
      env: { ...process.env, ...busEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`crm-simulator exited ${code}:\n${output}`))));
  });
}
