import { z } from 'zod';

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The app's environment; every problem is reported by variable name. */
export const appEnv = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    /**
     * Where rules and triggers live: `memory` (lost on exit), `mongo` (any MongoDB) or `postgres`
     * (PostgreSQL 13+). Default: `mongo` when MONGODB_URI is set, else `memory`.
     */
    STORE: z.enum(['memory', 'mongo', 'postgres']).optional(),
    MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URI').optional(),
    /** Default: the URI's database, else crm_automation (the adapter's and the CLI's default). */
    MONGODB_DB: z.string().min(1).optional(),
    POSTGRES_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    /** Schema of the tables; default crm_automation (the adapter's and the CLI's default). */
    POSTGRES_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,47}$/, 'lowercase letters, digits and _, at most 48 characters').optional(),
    /** Sent-command memory in Redis (survives restarts, shared by instances); else PostgreSQL with STORE=postgres, else in memory. */
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
    /** `accountId:sha256hex`, comma-separated: the stored form of API keys. */
    RULES_API_KEYS: csv.optional(),
    /** Development only: a plain API key for DEV_ACCOUNT_ID; made up and printed when no key is configured. */
    DEV_API_KEY: z.string().startsWith('crm_').min(20).optional(),
    DEV_ACCOUNT_ID: z.string().default('acc_12345'),
    /** Save the design doc's two rules at start when the account has none. Default: on with the memory store only. */
    SEED_RULES: flag.optional(),
    /** Real gateways when configured, printed to the console otherwise. */
    TWILIO_ACCOUNT_SID: z.string().optional(),
    TWILIO_AUTH_TOKEN: z.string().optional(),
    TWILIO_FROM: z.string().optional(),
    TWILIO_BASE_URL: z.string().url().optional(),
    SENDGRID_API_KEY: z.string().optional(),
    SENDGRID_FROM: z.string().email().optional(),
    SENDGRID_BASE_URL: z.string().url().optional(),
    /** `real` sends webhooks (signed, SSRF-checked); `console` prints them. Default console. */
    WEBHOOKS: z.enum(['real', 'console']).default('console'),
    WEBHOOK_SIGNING_SECRET: z.string().startsWith('whsec_').optional(),
    /** `true` sends real webhooks without a signature (receivers cannot verify them); say so explicitly. */
    WEBHOOK_UNSIGNED: flag.optional(),
    WEBHOOK_ALLOW_HOSTS: csv.optional(),
    /**
     * The URL providers reach this app at (`https://hooks.example.com`, with the path prefix a proxy
     * strips): Twilio's status callbacks go to `<PUBLIC_URL>/receipts/twilio`, and their signature is
     * checked against it. Without it no status callback is asked for.
     */
    PUBLIC_URL: z.string().url().refine((u) => /^https?:/.test(u) && !u.includes('?') && !u.includes('#'), 'an http(s) URL without query or fragment').optional(),
    /** SendGrid's Event Webhook verification key (base64, as its settings show it): serves `POST /receipts/sendgrid`. */
    SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(1).optional(),
    /** Behind a proxy: trust its X-Forwarded-* headers (client address, and the URL a provider called). */
    TRUST_PROXY: flag.optional(),
  })
  .superRefine((env, ctx) => {
    if (env.STORE === 'mongo' && !env.MONGODB_URI) ctx.addIssue({ code: 'custom', path: ['MONGODB_URI'], message: 'required with STORE=mongo' });
    if (env.STORE === 'postgres' && !env.POSTGRES_URL) ctx.addIssue({ code: 'custom', path: ['POSTGRES_URL'], message: 'required with STORE=postgres' });
    const twilio = [env.TWILIO_ACCOUNT_SID, env.TWILIO_AUTH_TOKEN, env.TWILIO_FROM];
    if (twilio.some(Boolean) && !twilio.every(Boolean)) ctx.addIssue({ code: 'custom', path: ['TWILIO_ACCOUNT_SID'], message: 'set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM together (or none for console SMS)' });
    if (env.SENDGRID_WEBHOOK_PUBLIC_KEY && !env.SENDGRID_API_KEY) ctx.addIssue({ code: 'custom', path: ['SENDGRID_WEBHOOK_PUBLIC_KEY'], message: 'receipts need SendGrid sending too (SENDGRID_API_KEY and SENDGRID_FROM)' });
    if (Boolean(env.SENDGRID_API_KEY) !== Boolean(env.SENDGRID_FROM)) ctx.addIssue({ code: 'custom', path: ['SENDGRID_API_KEY'], message: 'set SENDGRID_API_KEY and SENDGRID_FROM together (or neither for console email)' });
    if (env.WEBHOOKS === 'real' && !env.WEBHOOK_SIGNING_SECRET && env.WEBHOOK_UNSIGNED !== true) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SIGNING_SECRET'], message: 'required with WEBHOOKS=real (or WEBHOOK_UNSIGNED=true to send webhooks receivers cannot verify)' });
    }
    if (env.WEBHOOK_SIGNING_SECRET && env.WEBHOOK_UNSIGNED === true) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_UNSIGNED'], message: 'contradicts WEBHOOK_SIGNING_SECRET; set one of them' });
    }
    if (env.NODE_ENV === 'production' && env.DEV_API_KEY) ctx.addIssue({ code: 'custom', path: ['DEV_API_KEY'], message: 'not allowed when NODE_ENV=production' });
    if (env.NODE_ENV === 'production' && !env.RULES_API_KEYS) ctx.addIssue({ code: 'custom', path: ['RULES_API_KEYS'], message: 'required when NODE_ENV=production' });
    for (const entry of env.RULES_API_KEYS ?? []) {
      if (!/^[^:]+:[0-9a-f]{64}$/.test(entry)) ctx.addIssue({ code: 'custom', path: ['RULES_API_KEYS'], message: 'entries must be accountId:<sha256 hex of the key>' });
    }
  });

export type AppConfig = z.output<typeof appEnv>;

/** The store the app runs on: STORE, else MongoDB when MONGODB_URI is set (as before STORE existed), else memory. */
export function storeKind(config: AppConfig): 'memory' | 'mongo' | 'postgres' {
  return config.STORE ?? (config.MONGODB_URI ? 'mongo' : 'memory');
}

/** Parses the environment, or throws one error naming every bad variable. */
export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = appEnv.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
  throw Object.assign(new Error(`invalid configuration\n${lines.join('\n')}`), { code: 'CRM_ERR_CONFIG' });
}
