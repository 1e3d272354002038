import type { FastifyRequest } from 'fastify';

/** Who is calling: the account every query is scoped to, and what they may do. */
export interface Principal {
  accountId: string;
  scopes: readonly string[];
  /** Key id or JWT subject, for logs; never the secret itself. */
  subject?: string | undefined;
}

/**
 * Decides who sent a request. Returns null for missing or bad credentials (401); throws only for
 * infrastructure failures.
 */
export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>;

export const RULES_SCOPES = ['rules:read', 'rules:write', 'triggers:read', 'triggers:write', 'events:write'] as const;
export type RulesScope = (typeof RULES_SCOPES)[number];

/** The bearer credential of a request, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+([^\s]+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** Tries each authenticator in turn (e.g. API keys, then JWTs); the first to recognise the credential wins. */
export function anyOf(...authenticators: Authenticate[]): Authenticate {
  return async (request) => {
    for (const authenticate of authenticators) {
      const principal = await authenticate(request);
      if (principal) return principal;
    }
    return null;
  };
}
