import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import { bearerToken, RULES_SCOPES, type Authenticate } from './principal.js';

/** A stored API key: only its SHA-256 hash is kept. */
export interface ApiKeyRecord {
  /** Hex SHA-256 of the key, from {@link hashApiKey}. */
  hash: string;
  accountId: string;
  /** Defaults to every rules-service scope. */
  scopes?: readonly string[] | undefined;
  /** A public label for logs (e.g. `key_1`); never the key. */
  id?: string | undefined;
}

export const API_KEY_PREFIX = 'crm_';

/** SHA-256 of an API key: what a service stores instead of the key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random API key (shown once to its owner) and the hash to store. */
export function generateApiKey(): { key: string; hash: string } {
  const key = API_KEY_PREFIX + randomBytes(24).toString('base64url');
  return { key, hash: hashApiKey(key) };
}

export interface ApiKeyAuthOptions {
  /** The stored keys, or a lookup by hash (e.g. a database query). */
  keys: readonly ApiKeyRecord[] | ((hash: string) => Promise<ApiKeyRecord | null>);
}

// A misspelt `scopes` would otherwise give a read-only key every scope.
const RECORD_KEYS = optionKeys<ApiKeyRecord>()('hash', 'accountId', 'scopes', 'id');

/** A stored key without its hash or account would never match, or would authenticate no account. */
function checkKeyRecord(record: unknown, index: number): void {
  const where = `apiKeyAuth: keys[${index}]`;
  checkOptions(where, record, RECORD_KEYS, true);
  const { hash, accountId, scopes, id } = record as Partial<Record<keyof ApiKeyRecord, unknown>>;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/i.test(hash)) throw new AutomationError('CRM_ERR_CONFIG', `${where}.hash must be the key's SHA-256 in hex (hashApiKey(key))`);
  if (typeof accountId !== 'string' || accountId.trim() === '') throw new AutomationError('CRM_ERR_CONFIG', `${where}.accountId must be a non-empty string`);
  if (scopes !== undefined && (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string'))) throw new AutomationError('CRM_ERR_CONFIG', `${where}.scopes must be an array of scope names`);
  if (id !== undefined && typeof id !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `${where}.id must be a string`);
}

/**
 * Authenticates `Authorization: Bearer <api key>`. Keys are stored hashed; the presented key is hashed
 * and compared with `timingSafeEqual`, so neither the comparison nor the stored data reveal keys.
 */
export function apiKeyAuth(options: ApiKeyAuthOptions): Authenticate {
  checkOptions('apiKeyAuth', options, optionKeys<ApiKeyAuthOptions>()('keys'), true);
  if (!Array.isArray(options.keys) && typeof options.keys !== 'function') {
    throw new AutomationError('CRM_ERR_CONFIG', 'apiKeyAuth needs keys: an array of { hash, accountId, scopes?, id? } or a lookup function by hash');
  }
  if (Array.isArray(options.keys)) options.keys.forEach(checkKeyRecord);
  const byHash = Array.isArray(options.keys) ? new Map(options.keys.map((k) => [k.hash, k])) : undefined;
  const lookup = typeof options.keys === 'function' ? options.keys : async (hash: string) => byHash?.get(hash) ?? null;
  return async (request) => {
    const token = bearerToken(request);
    if (!token || !token.startsWith(API_KEY_PREFIX)) return null;
    const hash = hashApiKey(token);
    const record = await lookup(hash);
    if (!record) return null;
    const a = Buffer.from(record.hash, 'hex');
    const b = Buffer.from(hash, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    return { accountId: record.accountId, scopes: record.scopes ?? RULES_SCOPES, subject: record.id ?? `key:${hash.slice(0, 8)}` };
  };
}
