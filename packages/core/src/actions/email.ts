import { z } from 'zod';
import { issue, recipientField, renderedRecipient, singleLine, singleLineTemplate, templateString } from './fields.js';

/** Longest subject line (RFC 5322 line limit). */
export const MAX_SUBJECT_LENGTH = 998;
export const MAX_EMAIL_BODY_LENGTH = 100_000;

// A provider template carries its own subject; without one, a blank subject is refused by providers
// (SendGrid answers 400 to every such send), so it is refused here, at save and for a rendered command.
const needsContent = (p: { subject?: unknown; body?: unknown; html?: unknown; templateId?: unknown }, ctx: z.RefinementCtx) => {
  if (p.body === undefined && p.html === undefined && p.templateId === undefined) {
    ctx.addIssue(issue('missing_body', 'email needs a body, html or a templateId', ['body']));
  }
  if (p.templateId === undefined && typeof p.subject === 'string' && p.subject.trim() === '') {
    ctx.addIssue(issue('missing_subject', 'email needs a subject unless it names a templateId', ['subject']));
  }
};

/** `params` of an `email` action in a rule: templates allowed. */
export const emailRuleParamsSchema = z
  .strictObject({
    recipient: recipientField('email'),
    subject: singleLineTemplate(MAX_SUBJECT_LENGTH),
    body: templateString(MAX_EMAIL_BODY_LENGTH).optional(),
    html: templateString(MAX_EMAIL_BODY_LENGTH).optional(),
    templateId: singleLine(200).pipe(z.string().min(1)).optional(),
  })
  .superRefine(needsContent);

/** `params` of a rendered `email` command; `templateData` is the event payload when a `templateId` is named. */
export const emailCommandSchema = z
  .strictObject({
    recipient: renderedRecipient('email'),
    subject: singleLine(MAX_SUBJECT_LENGTH),
    body: z.string().max(MAX_EMAIL_BODY_LENGTH).optional(),
    html: z.string().max(MAX_EMAIL_BODY_LENGTH).optional(),
    templateId: singleLine(200).pipe(z.string().min(1)).optional(),
    templateData: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine(needsContent);
