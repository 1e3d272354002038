import { CliError } from '../cli-error.js';
import type { StoreKind } from './store-backend.js';

/**
 * How long the CLI waits to reach the store's server: a refused or unanswered connection fails in
 * this time, not after the MongoDB driver's 30 s of server selection (or, on PostgreSQL, never).
 */
export const STORE_CONNECT_TIMEOUT_MS = 5_000;

/** The address as it can be printed: no user or password, no query (it may carry credentials too). */
export function printableUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1').replace(/[?#].*$/, '');
}

const NAMES: Record<StoreKind, string> = { mongo: 'MongoDB', postgres: 'PostgreSQL' };

/** The errors of a driver and what they wrap (`cause`, the attempts of an AggregateError). */
function* chain(error: unknown, depth = 0): Generator<{ name?: unknown; code?: unknown; message?: unknown }> {
  if (typeof error !== 'object' || error === null || depth > 4) return;
  yield error as { name?: unknown; code?: unknown; message?: unknown };
  const { cause, errors, reason } = error as { cause?: unknown; errors?: unknown; reason?: unknown };
  yield* chain(cause, depth + 1);
  if (Array.isArray(errors)) for (const inner of errors) yield* chain(inner, depth + 1);
  // MongoServerSelectionError keeps each server's last error in reason.servers.
  const servers = (reason as { servers?: unknown } | undefined)?.servers;
  if (servers instanceof Map) for (const description of servers.values()) yield* chain((description as { error?: unknown }).error, depth + 1);
}

const REFUSED = new Set(['ECONNREFUSED']);
const NO_ANSWER = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);
const NO_HOST = new Set(['ENOTFOUND', 'EAI_AGAIN']);
const MONGO_UNREACHABLE = new Set(['MongoServerSelectionError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoTopologyClosedError']);

/** Why the server could not be reached, or undefined when the error says something else (bad credentials, a query's failure). */
export function unreachableReason(kind: StoreKind, error: unknown): string | undefined {
  // A driver wraps the socket's error (a timeout's cause is "terminated unexpectedly"): the most telling link wins.
  const seen = { refused: false, noHost: false, noAnswer: false, closed: false };
  for (const link of chain(error)) {
    const code = typeof link.code === 'string' ? link.code : '';
    const message = typeof link.message === 'string' ? link.message : '';
    if (REFUSED.has(code) || /\bECONNREFUSED\b/.test(message)) seen.refused = true;
    if (NO_HOST.has(code) || /\b(ENOTFOUND|EAI_AGAIN)\b/.test(message)) seen.noHost = true;
    if (NO_ANSWER.has(code) || /timeout exceeded when trying to connect|due to connection timeout|timed out/i.test(message)) seen.noAnswer = true;
    if (kind === 'mongo' && typeof link.name === 'string' && MONGO_UNREACHABLE.has(link.name)) seen.noAnswer = true;
    // Something answered on that port and hung up: not a server of this kind, or one shutting down.
    if (/Connection terminated unexpectedly|connection .*closed/i.test(message)) seen.closed = true;
  }
  if (seen.refused) return 'connection refused';
  if (seen.noHost) return 'host not found';
  if (seen.noAnswer) return `no answer within ${STORE_CONNECT_TIMEOUT_MS / 1000} s`;
  if (seen.closed) return 'the connection was closed before the server answered';
  return undefined;
}

/**
 * A `CRM_ERR_CLI_UNREACHABLE` naming the server (without credentials) and how to start one, when
 * `error` says the store's server could not be reached; otherwise `error` itself.
 */
export function explainUnreachable(kind: StoreKind, url: string, error: unknown): unknown {
  const reason = unreachableReason(kind, error);
  if (reason === undefined) return error;
  const name = NAMES[kind];
  return new CliError(
    'CRM_ERR_CLI_UNREACHABLE',
    `cannot reach ${name} at ${printableUrl(url)} (${reason}): is the server running, and is that its address? ` +
      `In the crm-automation repository, \`bash scripts/services.sh up ${kind}\` starts a local ${name} for tests.`,
  );
}
