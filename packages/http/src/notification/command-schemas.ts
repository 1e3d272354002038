import { z } from 'zod';

/**
 * Request bodies of the Notification Service: the design doc's `{ recipient, message, metadata }`
 * etc., which is `{ ...params, metadata }` of a rendered core command. Formats are checked here
 * for a clear 400; the gateway checks them again at send time (it is the authority).
 */

const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const LINE_BREAK = /[\r\n\u2028\u2029\0]/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const singleLine = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !LINE_BREAK.test(s), { message: 'must not contain line breaks (header injection)', params: { code: 'header_injection' } });

/** `metadata` of a command; `actionIndex` and `idempotencyKey` may be left out (design doc example). */
export const commandMetadataSchema = z.object({
  source: z.string().max(100).optional(),
  ruleId: z.string().min(1).max(200),
  triggerId: z.string().min(1).max(200),
  accountId: z.string().min(1).max(200),
  actionIndex: z.number().int().min(0).max(1_000).optional(),
  idempotencyKey: singleLine(400).pipe(z.string().min(1)).optional(),
});

export type CommandMetadataInput = z.infer<typeof commandMetadataSchema>;

export const smsCommandSchema = z.strictObject({
  recipient: z.string().regex(E164, 'must be an E.164 number such as +15557654321'),
  message: z.string().max(1_600).refine((s) => s.trim().length > 0, 'must not be empty'),
  metadata: commandMetadataSchema,
});

export const emailCommandSchema = z
  .strictObject({
    recipient: singleLine(320).pipe(z.string().regex(EMAIL, 'must be an email address')),
    subject: singleLine(998),
    body: z.string().max(100_000).optional(),
    html: z.string().max(100_000).optional(),
    templateId: singleLine(200).pipe(z.string().min(1)).optional(),
    templateData: z.record(z.string(), z.unknown()).optional(),
    metadata: commandMetadataSchema,
  })
  .refine((p) => p.body !== undefined || p.html !== undefined || p.templateId !== undefined, {
    message: 'email needs a body, html or templateId',
    path: ['body'],
  });

export const webhookCommandSchema = z.strictObject({
  url: singleLine(2_048).pipe(z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })),
  method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE', 'GET']).default('POST'),
  headers: z.record(z.string().regex(HEADER_NAME, 'invalid header name'), singleLine(4_096)).default({}),
  payload: z.unknown().optional(),
  metadata: commandMetadataSchema,
});

/** Any other action type: free-form params plus the metadata. */
export const customCommandSchema = z.looseObject({ metadata: commandMetadataSchema });

export const BUILT_IN_COMMAND_SCHEMAS: Readonly<Record<string, z.ZodType<{ metadata: CommandMetadataInput }>>> = {
  sms: smsCommandSchema,
  email: emailCommandSchema,
  webhook: webhookCommandSchema,
};
