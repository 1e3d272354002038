import { E164_PATTERN } from '@crm-automation/core';
import { z } from 'zod';
import { busEnv, busRetryEnv, requireTransportAddress } from '../runtime/bus-transport.js';
import { csv, durationMs, logLevel, port, serviceToken } from '../runtime/env-config.js';
import { requireStoreAddress, storeEnv } from '../runtime/store-config.js';

export const triggerServiceEnv = z
  .object({
    LOG_LEVEL: logLevel,
    HOST: z.string().default('127.0.0.1'),
    /** Health, readiness, metrics, and the internal trigger API the rules service calls. */
    HTTP_PORT: port(4102),
    ...storeEnv,
    /** The triggers DB (the design doc's "Triggers DB") with STORE=mongo; default the URI's database, else crm_automation. */
    TRIGGERS_DB_NAME: z.string().min(1).optional(),
    /** Tokens the rules service presents on the internal trigger API (several during a rotation). */
    SERVICE_TOKENS: csv.pipe(z.array(serviceToken).min(1, 'at least one token')),
    ...busEnv,
    ...busRetryEnv,

    /** How rules are read: the design doc's three inter-service patterns. */
    RULE_LOOKUP: z.enum(['rest', 'grpc', 'pubsub']).default('rest'),
    RULES_SERVICE_URL: z.string().url().default('http://127.0.0.1:4100'),
    RULES_GRPC_ADDRESS: z.string().default('127.0.0.1:4101'),
    RULES_SERVICE_TOKEN: serviceToken.optional(),
    /** Deadline of one lookup call (REST or gRPC). */
    RULES_TIMEOUT_MS: durationMs(1_000),
    RULES_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
    RULES_BREAKER_FAILURES: z.coerce.number().int().positive().default(5),
    RULES_BREAKER_COOLDOWN_MS: durationMs(5_000),
    /** Lookup cache (REST and gRPC): fresh for TTL, then served while the rules service is down for STALE more. */
    RULES_CACHE_TTL_MS: z.coerce.number().int().min(0).default(2_000),
    RULES_CACHE_STALE_MS: z.coerce.number().int().min(0).default(60_000),

    /** The CRM's job API (the CRM simulator's server mode): the `facts.job` loader of rules with `evaluate: 'current'`. */
    CRM_URL: z.string().url().default('http://127.0.0.1:4105'),
    /** Deadline of one job read; FACT_TIMEOUT_MS, the engine's bound on a loader, is longer. */
    CRM_TIMEOUT_MS: durationMs(2_000),
    CRM_BREAKER_FAILURES: z.coerce.number().int().positive().default(5),
    CRM_BREAKER_COOLDOWN_MS: durationMs(5_000),
    FACT_TIMEOUT_MS: durationMs(5_000),

    NOTIFICATION_SERVICE_URL: z.string().url().default('http://127.0.0.1:4103'),
    NOTIFICATION_SERVICE_TOKEN: serviceToken,
    /** Deadline of one command to the notification service; it includes the provider's call. */
    NOTIFICATION_TIMEOUT_MS: durationMs(8_000),
    /** The engine's deadline for one send: longer than NOTIFICATION_TIMEOUT_MS, so the HTTP timeout decides. */
    SEND_TIMEOUT_MS: durationMs(10_000),
    /** How long a claimed trigger is exclusive; a crashed instance's triggers come back after this. */
    LEASE_MS: durationMs(60_000),
    POLL_INTERVAL_MS: durationMs(500),
    CONCURRENCY: z.coerce.number().int().positive().default(16),
    MAX_ATTEMPTS: z.coerce.number().int().positive().default(5),
    BACKOFF_BASE_MS: durationMs(5_000),
    BACKOFF_MAX_MS: durationMs(3_600_000),
    INSTANCE_ID: z.string().optional(),

    /**
     * Replies to the accounts' Twilio numbers (the numbers' "A message comes in" webhook,
     * `POST /receipts/twilio/inbound`): served when TWILIO_AUTH_TOKEN is set. STOP suppresses the
     * sender here, where the engine reads suppressions at fire time; START lifts it.
     */
    TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
    /** Texts signed for another Twilio account are ignored. */
    TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
    /** Which account each number belongs to: `+15550001111:acc_12345,...`. */
    TWILIO_NUMBERS: csv
      .transform((entries, ctx) => {
        const accounts = new Map<string, string>();
        for (const entry of entries) {
          const [number = '', accountId = '', ...rest] = entry.split(':');
          if (!E164_PATTERN.test(number) || !/^[A-Za-z0-9_.-]{1,100}$/.test(accountId) || rest.length > 0) {
            ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)}: each entry is <E.164 number>:<accountId>, e.g. +15550001111:acc_12345` });
            return z.NEVER;
          }
          accounts.set(number, accountId);
        }
        return accounts;
      })
      .optional(),
    /**
     * The URL Twilio reaches this service at (with the path prefix a proxy strips): the inbound
     * webhook is `<PUBLIC_URL>/receipts/twilio/inbound`, and its signature covers that URL.
     */
    PUBLIC_URL: z.string().url().refine((u) => /^https?:/.test(u) && !u.includes('?') && !u.includes('#'), 'an http(s) URL without query or fragment').optional(),
  })
  .superRefine((env, ctx) => {
    requireTransportAddress(env, ctx);
    requireStoreAddress(env, ctx);
    if (env.RULE_LOOKUP !== 'pubsub' && !env.RULES_SERVICE_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['RULES_SERVICE_TOKEN'], message: `required when RULE_LOOKUP=${env.RULE_LOOKUP} (one of the rules service's SERVICE_TOKENS)` });
    }
    // The timeouts nest: provider < notification service call < engine send < lease.
    if (env.SEND_TIMEOUT_MS <= env.NOTIFICATION_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['SEND_TIMEOUT_MS'], message: `must be longer than NOTIFICATION_TIMEOUT_MS (${env.NOTIFICATION_TIMEOUT_MS}), so a slow send ends as an HTTP timeout the engine can classify` });
    }
    if (env.LEASE_MS <= env.SEND_TIMEOUT_MS * 2) {
      ctx.addIssue({ code: 'custom', path: ['LEASE_MS'], message: `must be more than twice SEND_TIMEOUT_MS (${env.SEND_TIMEOUT_MS}), so a trigger's sends finish inside its lease` });
    }
    if (env.FACT_TIMEOUT_MS <= env.CRM_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['FACT_TIMEOUT_MS'], message: `must be longer than CRM_TIMEOUT_MS (${env.CRM_TIMEOUT_MS}), so a slow CRM ends as the loader's own timeout` });
    }
    if (env.TWILIO_AUTH_TOKEN && !env.TWILIO_NUMBERS?.size) {
      ctx.addIssue({ code: 'custom', path: ['TWILIO_NUMBERS'], message: 'required with TWILIO_AUTH_TOKEN: which account a reply to each number belongs to (+15550001111:acc_12345)' });
    }
    if ((env.TWILIO_NUMBERS || env.PUBLIC_URL || env.TWILIO_ACCOUNT_SID) && !env.TWILIO_AUTH_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['TWILIO_AUTH_TOKEN'], message: 'required with TWILIO_NUMBERS, TWILIO_ACCOUNT_SID or PUBLIC_URL: inbound texts are verified with it' });
    }
    if (env.BACKOFF_MAX_MS < env.BACKOFF_BASE_MS) ctx.addIssue({ code: 'custom', path: ['BACKOFF_MAX_MS'], message: 'must be at least BACKOFF_BASE_MS' });
  });

export type TriggerServiceConfig = z.output<typeof triggerServiceEnv>;
