import { HttpError } from '@crm-automation/http';
import type { z } from 'zod';

/**
 * A request's query or body, checked with `schema`: the internal routes' input. A mismatch is
 * `400 CRM_ERR_HTTP_BAD_REQUEST` with every issue, its path prefixed by the part (`query.accountId`).
 */
export function parseRequestPart<T>(schema: z.ZodType<T>, value: unknown, part: 'query' | 'body'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: `${part}.${i.path.join('.')}`, code: i.code, message: i.message }));
  throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid ${part}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}
