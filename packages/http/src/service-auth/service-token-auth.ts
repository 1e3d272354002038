import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import { bearerToken } from '../account-auth/principal.js';
import { HttpError } from '../http-errors.js';

export interface ServiceTokenAuthOptions {
  /** Tokens the calling services present; several during a rotation. At least 16 characters each. */
  tokens: readonly string[];
  /** Realm in the WWW-Authenticate challenge. */
  realm?: string | undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * An `onRequest` hook for service-to-service calls (Trigger Service → Notification Service): admits
 * `Authorization: Bearer <token>` with one of the configured tokens. Tokens are compared as SHA-256
 * digests with `timingSafeEqual`, against every configured token, so timing reveals neither a
 * token's content nor its length.
 */
export function serviceTokenAuth(options: ServiceTokenAuthOptions) {
  checkOptions('serviceTokenAuth', options, optionKeys<ServiceTokenAuthOptions>()('tokens', 'realm'), true);
  if (options.tokens !== undefined && !Array.isArray(options.tokens)) throw new AutomationError('CRM_ERR_CONFIG', 'serviceTokenAuth: tokens must be an array of tokens (at least 16 characters each)');
  if (options.realm !== undefined && (typeof options.realm !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e ]+$/.test(options.realm))) {
    // Written into the WWW-Authenticate challenge: a quote or a line break there would break the header.
    throw new AutomationError('CRM_ERR_CONFIG', 'serviceTokenAuth: realm must be a non-empty printable string without quotes or backslashes');
  }
  const tokens = (options.tokens ?? []).filter((t) => typeof t === 'string' && t.length > 0);
  if (tokens.length === 0) throw new AutomationError('CRM_ERR_CONFIG', 'serviceTokenAuth: tokens needs at least one token');
  if (tokens.some((t) => t.length < 16)) throw new AutomationError('CRM_ERR_CONFIG', 'serviceTokenAuth: tokens must be at least 16 characters each');
  const digests = tokens.map(digest);
  const realm = options.realm ?? 'crm-automation';

  return async function authenticateService(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const presented = bearerToken(request);
    if (presented === null) {
      throw new HttpError(401, 'CRM_ERR_HTTP_UNAUTHENTICATED', 'send Authorization: Bearer <token>', undefined, { 'www-authenticate': `Bearer realm="${realm}"` });
    }
    const candidate = digest(presented);
    let accepted = false;
    for (const known of digests) accepted = timingSafeEqual(candidate, known) || accepted;
    if (!accepted) {
      throw new HttpError(401, 'CRM_ERR_HTTP_UNAUTHENTICATED', 'the bearer token is not valid for this service', undefined, {
        'www-authenticate': `Bearer realm="${realm}", error="invalid_token"`,
      });
    }
  };
}
