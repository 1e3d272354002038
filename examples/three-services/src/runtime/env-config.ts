import { z } from 'zod';
import { ConfigError } from '../service-errors.js';

export { ConfigError };

/**
 * Parses `env` with a zod schema whose keys are variable names. Every problem is reported at once,
 * by variable name, so a misconfigured service says exactly what to fix instead of failing later.
 */
export function loadConfig<S extends z.ZodType>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // Empty strings mean "not set": `FOO= npm start` should behave like leaving FOO out.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    service,
    parsed.error.issues.map((issue) => ({ variable: issue.path.map(String).join('.') || '(environment)', message: issue.message })),
  );
}

/** A whole number of milliseconds, from a string. */
export const durationMs = (fallback: number) => z.coerce.number().int('must be a whole number of milliseconds').positive('must be positive').default(fallback);

/** A TCP port; 0 lets the OS pick (the bound port is logged). */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

/** A comma-separated list. */
export const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

/** A comma-separated list of positive milliseconds. */
export const csvDurations = z
  .string()
  .transform((s, ctx) => {
    const values = s.split(',').map((x) => Number(x.trim()));
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of positive whole milliseconds, e.g. 1000,5000,30000' });
      return z.NEVER;
    }
    return values;
  });

export const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');

/** A shared secret between services: long enough not to be guessed. */
export const serviceToken = z.string().min(16, 'must be at least 16 characters (a shared secret between services)');
