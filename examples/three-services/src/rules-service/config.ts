import { z } from 'zod';
import { busEnv, requireTransportAddress } from '../runtime/bus-transport.js';
import { csv, durationMs, logLevel, port, serviceToken } from '../runtime/env-config.js';
import { requireStoreAddress, storeEnv } from '../runtime/store-config.js';

/** `accountId:sha256hex[:label]`, comma-separated: the stored form of the Rules API keys. */
const apiKeyList = z.string().transform((value, ctx) => {
  const records = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [accountId, hash, id] = entry.split(':');
    if (!accountId || !hash || !/^[0-9a-f]{64}$/.test(hash)) {
      ctx.addIssue({ code: 'custom', message: `entry ${JSON.stringify(entry.slice(0, 20))}… must be accountId:<sha256 hex of the key>[:label] (npm run api-key -w @crm-automation/example-three-services makes one)` });
      return z.NEVER;
    }
    records.push({ accountId, hash, ...(id ? { id } : {}) });
  }
  return records;
});

export const rulesServiceEnv = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: logLevel,
    HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port(4100),
    GRPC_PORT: port(4101),
    ...storeEnv,
    /** The rules DB (the design doc's "Rules DB") with STORE=mongo; default the URI's database, else crm_automation. */
    RULES_DB_NAME: z.string().min(1).optional(),
    /** Tokens the trigger service presents on the internal rule routes and gRPC. */
    SERVICE_TOKENS: csv.pipe(z.array(serviceToken).min(1, 'at least one token')),
    RULES_API_KEYS: apiKeyList.optional(),
    /** Development only: a plain API key for DEV_ACCOUNT_ID (refused when NODE_ENV=production). */
    DEV_API_KEY: z.string().startsWith('crm_', 'API keys start with crm_').min(20).optional(),
    DEV_ACCOUNT_ID: z.string().default('acc_12345'),
    /** Webhook hosts rules may name besides public ones (the local receiver in the example). */
    WEBHOOK_ALLOW_HOSTS: csv.optional(),
    /** The trigger service, which keeps the triggers the Rules API's trigger routes show and change. */
    TRIGGER_SERVICE_URL: z.string().url().default('http://127.0.0.1:4102'),
    /** One of the trigger service's SERVICE_TOKENS. */
    TRIGGER_SERVICE_TOKEN: serviceToken,
    /** Deadline of one call to the trigger service; past it the route answers 503. */
    TRIGGER_SERVICE_TIMEOUT_MS: durationMs(5_000),
    ...busEnv,
  })
  .superRefine((env, ctx) => {
    requireTransportAddress(env, ctx);
    requireStoreAddress(env, ctx);
    if (env.NODE_ENV === 'production' && env.DEV_API_KEY) ctx.addIssue({ code: 'custom', path: ['DEV_API_KEY'], message: 'not allowed when NODE_ENV=production; store hashes in RULES_API_KEYS' });
    if (env.NODE_ENV === 'production' && !env.RULES_API_KEYS) ctx.addIssue({ code: 'custom', path: ['RULES_API_KEYS'], message: 'required when NODE_ENV=production' });
  });

export type RulesServiceConfig = z.output<typeof rulesServiceEnv>;
