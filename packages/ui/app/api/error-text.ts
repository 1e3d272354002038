import { ApiError } from './client.js';

/** What a screen shows when a call fails: the API's own message, or a generic one for anything else. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong. Try again.';
}
