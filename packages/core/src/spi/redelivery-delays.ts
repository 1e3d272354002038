import { AutomationError } from '../errors.js';

/** Redelivery delays of a broker-backed bus unless configured: 1 s, 5 s, 30 s, then every 2 min. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000];

/** The `retryDelaysMs` option of a bus: the default when absent, else a copy of a non-empty list of positive integers. */
export function retryDelaysOption(value: readonly number[] | undefined): number[] {
  const delays = value ?? DEFAULT_RETRY_DELAYS_MS;
  if (delays.length === 0 || delays.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new AutomationError('CRM_ERR_CONFIG', 'retryDelaysMs must be a non-empty list of positive integers (milliseconds)');
  }
  return [...delays];
}

/** The redelivery delay after failed attempt `attempt` (1-based): `retryDelaysMs[attempt - 1]`, the last one repeating. */
export function retryDelayFor(options: { readonly retryDelaysMs: readonly number[] }, attempt: number): number {
  const delays = options.retryDelaysMs;
  return delays[Math.min(attempt, delays.length) - 1] ?? delays[delays.length - 1] ?? 1_000;
}
