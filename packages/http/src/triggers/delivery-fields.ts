import { z } from 'zod';

/**
 * The fields of a delivery that name what was sent, alike in the API's response schema and in the JSON
 * a trigger service sends a rules service (dates, ids and states differ between the two; these do not).
 */
export const deliveryReferenceFields = {
  triggerId: z.string(),
  ruleId: z.string(),
  actionIndex: z.number().int(),
  attempt: z.number().int(),
  type: z.string(),
  /** The gateway's name; after a failover or through a Notification Service, the provider that took it. */
  provider: z.string(),
  idempotencyKey: z.string(),
};
