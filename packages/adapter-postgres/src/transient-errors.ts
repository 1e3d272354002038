import { isAutomationError } from '@crm-automation/core';
import { isConnectionFailure, sqlState } from './connection.js';

/**
 * Whether a statement that failed may succeed if made again: the server could not be reached or went
 * away (see {@link isConnectionFailure}), the transaction was rolled back by a serialization failure or
 * a deadlock (class 40), the server ran out of a resource such as connections (class 53), a statement
 * or lock timeout cancelled it (57014, 55P03), or the driver's own reply timeout (`query_timeout`) fired.
 */
export function isTransientFailure(error: unknown): boolean {
  if (isConnectionFailure(error)) return true;
  const state = sqlState(error);
  if (state) return state.startsWith('40') || state.startsWith('53') || state === '57014' || state === '55P03';
  return error instanceof Error && /Query read timeout/i.test(error.message);
}

/**
 * Whether the server answered the statement with an error: then its transaction was rolled back and
 * nothing of it was written. A lost connection (or a reply timeout) answers nothing: the statement may
 * have committed before the reply was lost.
 */
export function serverRefused(error: unknown): boolean {
  if (isAutomationError(error)) return true;
  return sqlState(error) !== undefined && !isConnectionFailure(error);
}

/**
 * Marks a transient failure `retryable: true`, the flag core reads on any error to decide between a
 * retry and a permanent failure; other errors are returned as they are. The error keeps its class.
 */
export function markTransient<E>(error: E): E {
  if (typeof error === 'object' && error !== null && !isAutomationError(error) && isTransientFailure(error)) {
    Object.defineProperty(error, 'retryable', { value: true, enumerable: false, configurable: true, writable: true });
  }
  return error;
}
