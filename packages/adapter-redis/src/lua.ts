import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { AutomationError } from '@crm-automation/core';

/** A connection the adapters run their scripts on: a standalone (or Sentinel) client or a Cluster. */
export type RedisConnection = Redis | Cluster;

export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

export const luaScript = (source: string): LuaScript => ({ source, sha1: createHash('sha1').update(source).digest('hex') });

/** Refuses a first argument that is not an ioredis client (JavaScript callers, a swapped argument order). */
export function requireConnection(factory: string, redis: unknown): void {
  const client = redis as { evalsha?: unknown; eval?: unknown } | null | undefined;
  if (typeof client?.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new AutomationError('CRM_ERR_CONFIG', `${factory} needs an ioredis Redis or Cluster connection as its first argument, got ${client === null ? 'null' : typeof client}`);
  }
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * Runs a script by its SHA1 (`EVALSHA`), sending its source (`EVAL`, which also caches it) only when
 * the server does not know it yet (first use, a restart, `SCRIPT FLUSH`, another cluster node). Every
 * other error is the caller's: the engine turns a counter's or throttle's failure into a retryable
 * `CRM_ERR_POLICY_UNAVAILABLE`.
 */
export async function runScript(redis: RedisConnection, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha1, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(script.source, keys.length, ...keys, ...args);
  }
}
