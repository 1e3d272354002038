import { hasLineBreak } from '@crm-automation/core';
import { z } from 'zod';

/**
 * The part of a Notification Service request body this service owns: `metadata`. The params beside it
 * (`{ recipient, message }`, ...) are checked with the gateway's `commandSchema`, or core's schema of
 * the built-in type (`smsCommandSchema`, ...): the same schema the engine checks every command with.
 */

/** Longest idempotency key accepted in `metadata.idempotencyKey` or the `Idempotency-Key` header. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 400;

const idempotencyKey = z
  .string()
  .min(1)
  .max(MAX_IDEMPOTENCY_KEY_LENGTH)
  .refine((s) => !hasLineBreak(s), { message: 'must not contain line breaks', params: { code: 'header_injection' } });

/** `metadata` of a command; `actionIndex` and `idempotencyKey` may be left out (design doc example). */
export const commandMetadataSchema = z.object({
  source: z.string().max(100).optional(),
  ruleId: z.string().min(1).max(200),
  triggerId: z.string().min(1).max(200),
  accountId: z.string().min(1).max(200),
  actionIndex: z.number().int().min(0).max(1_000).optional(),
  idempotencyKey: idempotencyKey.optional(),
  /** The caller's delivery ledger id of this send: gateways pass it where receipts echo it back. */
  deliveryId: z.string().min(1).max(200).optional(),
  /** Providers a failover gateway must skip (they reported this message undelivered). */
  excludeProviders: z.array(z.string().min(1).max(100)).max(20).optional(),
});

export type CommandMetadataInput = z.infer<typeof commandMetadataSchema>;

/** The `Idempotency-Key` header, when present: the same rules as `metadata.idempotencyKey`. */
export const idempotencyKeyHeaderSchema = idempotencyKey;
