import type { IdempotencyStore } from '@crm-automation/core';
import { smtpEmailGateway, type ClosableChannelGateway, type SmtpEmailOptions, type SmtpTransportFactory } from '../email/smtp-email.js';
import { redisIdempotencyStore, type RedisClientConstructor, type RedisIdempotencyStoreOptions } from '../idempotency/redis-idempotency-store.js';
import { loadOptionalPeer } from '../optional-peer.js';

// The main entry's SMTP and Redis factories, kept for one minor version: they load their driver on
// first call, so importing the main entry never needs nodemailer or ioredis installed.

/**
 * @deprecated Import `createSmtpEmail` from `@crm-automation/channels/smtp` (nodemailer is an optional
 * peer dependency there); this export loads nodemailer on first call and goes in the next minor version.
 */
export function createSmtpEmail(options: SmtpEmailOptions): ClosableChannelGateway {
  const nodemailer = loadOptionalPeer<{ createTransport: SmtpTransportFactory }>('nodemailer', 'createSmtpEmail', '@crm-automation/channels/smtp');
  return smtpEmailGateway(nodemailer.createTransport, options);
}

/**
 * @deprecated Import `createRedisIdempotencyStore` from `@crm-automation/channels/redis` (ioredis is
 * an optional peer dependency there); this export loads ioredis on first call and goes in the next minor version.
 */
export function createRedisIdempotencyStore(options: RedisIdempotencyStoreOptions): IdempotencyStore {
  const ioredis = loadOptionalPeer<{ Redis: RedisClientConstructor }>('ioredis', 'createRedisIdempotencyStore', '@crm-automation/channels/redis');
  return redisIdempotencyStore(ioredis.Redis, options);
}
