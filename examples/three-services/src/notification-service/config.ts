import { E164_PATTERN } from '@crm-automation/core';
import { z } from 'zod';
import { csv, durationMs, logLevel, port, serviceToken } from '../runtime/env-config.js';
import { storeEnv } from '../runtime/store-config.js';

export const notificationServiceEnv = z
  .object({
    LOG_LEVEL: logLevel,
    HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port(4103),
    /** Where sent commands are remembered (idempotency keys): `redis` or `postgres`. */
    STORE: z.enum(['redis', 'postgres']).default('redis'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
    /** Prefix of the keys in Redis. */
    IDEMPOTENCY_KEY_PREFIX: z.string().default('crm:idempotency:'),
    POSTGRES_URL: storeEnv.POSTGRES_URL,
    /** Schema of `idempotency_keys` with STORE=postgres. */
    POSTGRES_SCHEMA: storeEnv.POSTGRES_SCHEMA,
    /** Tokens the trigger service presents. */
    SERVICE_TOKENS: csv.pipe(z.array(serviceToken).min(1, 'at least one token')),
    /** Deadline of one provider call; shorter than the trigger service's NOTIFICATION_TIMEOUT_MS. */
    PROVIDER_TIMEOUT_MS: durationMs(5_000),

    /** Twilio's API origin; leave unset for Twilio itself, or point it at a compatible server. */
    TWILIO_BASE_URL: z.string().url().optional(),
    TWILIO_ACCOUNT_SID: z.string().min(1),
    TWILIO_AUTH_TOKEN: z.string().min(1),
    TWILIO_FROM: z.string().regex(E164_PATTERN, 'must be an E.164 number, e.g. +15550001111'),

    SENDGRID_BASE_URL: z.string().url().optional(),
    SENDGRID_API_KEY: z.string().min(1),
    SENDGRID_FROM: z.string().email(),

    /** Standard Webhooks signing secret, `whsec_` + base64 of 24+ random bytes. */
    WEBHOOK_SIGNING_SECRET: z.string().startsWith('whsec_'),
    /** Hosts webhooks may reach besides public addresses (the local receiver in the example). */
    WEBHOOK_ALLOW_HOSTS: csv.optional(),

    /**
     * Delivery receipts: where the trigger service (which keeps the delivery ledger) is, and the
     * token this service presents to it. Without them no receipt route is served.
     */
    TRIGGER_SERVICE_URL: z.string().url().optional(),
    TRIGGER_SERVICE_TOKEN: serviceToken.optional(),
    TRIGGER_SERVICE_TIMEOUT_MS: durationMs(5_000),
    /**
     * The URL providers reach this service at (with the path prefix a proxy strips): Twilio's status
     * callbacks go to `<PUBLIC_URL>/receipts/twilio` and their signature is checked against it.
     */
    PUBLIC_URL: z.string().url().refine((u) => /^https?:/.test(u) && !u.includes('?') && !u.includes('#'), 'an http(s) URL without query or fragment').optional(),
    /** SendGrid's Event Webhook verification key (base64 DER, as its settings show it, or PEM): serves `POST /receipts/sendgrid`. */
    SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(1).optional(),
    /** Behind a proxy: trust its X-Forwarded-* headers. */
    TRUST_PROXY: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  })
  .superRefine((env, ctx) => {
    if (env.STORE === 'redis' && !env.REDIS_URL) ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required when STORE=redis (e.g. redis://127.0.0.1:6379)' });
    if (Boolean(env.TRIGGER_SERVICE_URL) !== Boolean(env.TRIGGER_SERVICE_TOKEN)) {
      ctx.addIssue({ code: 'custom', path: [env.TRIGGER_SERVICE_URL ? 'TRIGGER_SERVICE_TOKEN' : 'TRIGGER_SERVICE_URL'], message: 'set TRIGGER_SERVICE_URL and TRIGGER_SERVICE_TOKEN together (receipts go to the trigger service), or neither' });
    }
    if ((env.PUBLIC_URL || env.SENDGRID_WEBHOOK_PUBLIC_KEY) && !env.TRIGGER_SERVICE_URL) {
      ctx.addIssue({ code: 'custom', path: [env.PUBLIC_URL ? 'PUBLIC_URL' : 'SENDGRID_WEBHOOK_PUBLIC_KEY'], message: 'receipts need TRIGGER_SERVICE_URL and TRIGGER_SERVICE_TOKEN (the trigger service keeps the delivery ledger)' });
    }
    if (env.STORE === 'postgres' && !env.POSTGRES_URL) ctx.addIssue({ code: 'custom', path: ['POSTGRES_URL'], message: 'required when STORE=postgres (e.g. postgres://postgres@127.0.0.1:5433/crm_automation)' });
  });

export type NotificationServiceConfig = z.output<typeof notificationServiceEnv>;
