import { z } from 'zod';
import { busEnv, requireTransportAddress } from '../runtime/bus-transport.js';
import { csv, logLevel, port, serviceToken } from '../runtime/env-config.js';

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
    MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URI'),
    /** The rules DB (the design doc's "Rules DB"). */
    RULES_DB_NAME: z.string().default('crm_rules'),
    /** The trigger service's DB, read for the Management UI's trigger views and written by HTTP intake. */
    TRIGGERS_DB_NAME: z.string().default('crm_triggers'),
    /** Tokens the trigger service presents on the internal REST routes and gRPC. */
    SERVICE_TOKENS: csv.pipe(z.array(serviceToken).min(1, 'at least one token')),
    RULES_API_KEYS: apiKeyList.optional(),
    /** Development only: a plain API key for DEV_ACCOUNT_ID (refused when NODE_ENV=production). */
    DEV_API_KEY: z.string().startsWith('crm_', 'API keys start with crm_').min(20).optional(),
    DEV_ACCOUNT_ID: z.string().default('acc_12345'),
    /** Webhook hosts rules may name besides public ones (the local receiver in the example). */
    WEBHOOK_ALLOW_HOSTS: csv.optional(),
    ...busEnv,
  })
  .superRefine((env, ctx) => {
    requireTransportAddress(env, ctx);
    if (env.NODE_ENV === 'production' && env.DEV_API_KEY) ctx.addIssue({ code: 'custom', path: ['DEV_API_KEY'], message: 'not allowed when NODE_ENV=production; store hashes in RULES_API_KEYS' });
    if (env.NODE_ENV === 'production' && !env.RULES_API_KEYS) ctx.addIssue({ code: 'custom', path: ['RULES_API_KEYS'], message: 'required when NODE_ENV=production' });
    if (env.RULES_DB_NAME === env.TRIGGERS_DB_NAME) ctx.addIssue({ code: 'custom', path: ['TRIGGERS_DB_NAME'], message: 'must differ from RULES_DB_NAME: rules and triggers live in separate databases' });
  });

export type RulesServiceConfig = z.output<typeof rulesServiceEnv>;
