import { createSecretKey, KeyObject } from 'node:crypto';
import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import { importSPKI, jwtVerify, type JWTPayload } from 'jose';
import { bearerToken, type Authenticate } from './principal.js';

export interface JwtAuthOptions {
  /** HS256 shared secret. */
  secret?: string | Uint8Array | undefined;
  /** RS256 public key, PEM (SPKI) or a KeyObject. */
  publicKey?: string | KeyObject | undefined;
  /** Claim that holds the account id. Default `accountId`. */
  accountClaim?: string | undefined;
  /** Claim that holds the scopes (space-separated string or array). Default `scope`. */
  scopesClaim?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Allowed clock skew in seconds. Default 30. */
  clockToleranceSec?: number | undefined;
}

function readScopes(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  return [];
}

const JWT_OPTION_KEYS = optionKeys<JwtAuthOptions>()('secret', 'publicKey', 'accountClaim', 'scopesClaim', 'issuer', 'audience', 'clockToleranceSec');

/**
 * Authenticates `Authorization: Bearer <JWT>` signed with HS256 (secret) or RS256 (public key). The
 * account comes from a configurable claim; `exp`/`nbf` are enforced; other algorithms are refused.
 */
export function jwtAuth(options: JwtAuthOptions): Authenticate {
  checkOptions('jwtAuth', options, JWT_OPTION_KEYS, true);
  if (!options.secret === !options.publicKey) throw new AutomationError('CRM_ERR_CONFIG', 'jwtAuth needs exactly one of secret (HS256) or publicKey (RS256)');
  if (options.secret !== undefined && typeof options.secret !== 'string' && !(options.secret instanceof Uint8Array)) throw new AutomationError('CRM_ERR_CONFIG', 'jwtAuth: secret must be a string or a Uint8Array');
  if (options.publicKey !== undefined && typeof options.publicKey !== 'string' && !(options.publicKey instanceof KeyObject)) throw new AutomationError('CRM_ERR_CONFIG', 'jwtAuth: publicKey must be a PEM (SPKI) string or a KeyObject');
  for (const claim of ['accountClaim', 'scopesClaim', 'issuer', 'audience'] as const) {
    const value = options[claim];
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new AutomationError('CRM_ERR_CONFIG', `jwtAuth: ${claim} must be a non-empty string`);
  }
  if (options.clockToleranceSec !== undefined && !(typeof options.clockToleranceSec === 'number' && Number.isFinite(options.clockToleranceSec) && options.clockToleranceSec >= 0)) {
    throw new AutomationError('CRM_ERR_CONFIG', 'jwtAuth: clockToleranceSec must be a non-negative number of seconds');
  }
  const accountClaim = options.accountClaim ?? 'accountId';
  const scopesClaim = options.scopesClaim ?? 'scope';
  const algorithms = options.secret ? ['HS256'] : ['RS256'];
  let key: Promise<KeyObject | Awaited<ReturnType<typeof importSPKI>>>;
  if (options.secret) {
    key = Promise.resolve(createSecretKey(typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret));
  } else if (typeof options.publicKey === 'string') {
    key = importSPKI(options.publicKey, 'RS256');
  } else {
    key = Promise.resolve(options.publicKey as KeyObject);
  }
  return async (request) => {
    const token = bearerToken(request);
    if (!token || token.split('.').length !== 3) return null;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await key, {
        algorithms,
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
        clockTolerance: options.clockToleranceSec ?? 30,
      }));
    } catch {
      return null;
    }
    const accountId = payload[accountClaim];
    if (typeof accountId !== 'string' || accountId.length === 0) return null;
    return { accountId, scopes: readScopes(payload[scopesClaim]), subject: typeof payload.sub === 'string' ? payload.sub : undefined };
  };
}
