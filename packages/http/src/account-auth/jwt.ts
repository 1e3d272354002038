import { createSecretKey, type KeyObject } from 'node:crypto';
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

/**
 * Authenticates `Authorization: Bearer <JWT>` signed with HS256 (secret) or RS256 (public key). The
 * account comes from a configurable claim; `exp`/`nbf` are enforced; other algorithms are refused.
 */
export function jwtAuth(options: JwtAuthOptions): Authenticate {
  if (!options.secret === !options.publicKey) throw new TypeError('jwtAuth needs exactly one of secret (HS256) or publicKey (RS256)');
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
