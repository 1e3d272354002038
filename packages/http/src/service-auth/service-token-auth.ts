import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AutomationError } from '@crm-automation/core';
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
  const tokens = (options.tokens ?? []).filter((t) => typeof t === 'string' && t.length > 0);
  if (tokens.length === 0) throw new AutomationError('CRM_ERR_CONFIG', 'service token auth needs at least one token');
  if (tokens.some((t) => t.length < 16)) throw new AutomationError('CRM_ERR_CONFIG', 'service tokens must be at least 16 characters');
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
