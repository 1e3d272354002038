import { z } from 'zod';
import { checkJsonShape, MAX_JSON_DEPTH } from '../input/json-shape.js';
import { checkJsonPath, checkSingleValuePath } from '../rules/json-path.js';
import { expandIssues } from '../rules/issues.js';
import { hinted } from '../rules/json-schema-hints.js';
import { checkTemplateCached, TEMPLATE_LIMITS } from '../rules/templates.js';
import { hasLineBreak, isE164, isEmailAddress, MAX_EMAIL_LENGTH } from './contact-points.js';

/**
 * Field schemas shared by the built-in action types: template fields of rules (checked to compile and
 * to stay within the template budget at save time) and plain fields of rendered commands.
 */

/** A zod custom issue carrying one of our codes in `params.code`. */
export const issue = (code: string, message: string, path: PropertyKey[] = []) => ({ code: 'custom' as const, message, path, params: { code } });

type AnyIssue = { code?: string | undefined; path: ReadonlyArray<PropertyKey>; message: string; params?: Record<string, unknown> | undefined };

/** Re-raises a nested parse issue inside a refinement, keeping its code and prefixing its path. */
export function toCustom(i: AnyIssue, prefix: PropertyKey[] = []) {
  const code = typeof i.params?.['code'] === 'string' ? (i.params['code'] as string) : (i.code ?? 'invalid');
  return issue(code, i.message, [...prefix, ...i.path]);
}

/** {@link toCustom} for every issue of a nested parse, wrapper issues (record keys) unwrapped. */
export function toCustomAll(issues: ReadonlyArray<AnyIssue>, prefix: PropertyKey[] = []) {
  return expandIssues(issues).map((i) => toCustom(i, prefix));
}

const singleLineRefinement = { message: 'must not contain line breaks (header injection)', params: { code: 'header_injection' } };

/** A string that may contain Handlebars; checked to compile and to stay within budget at save time. */
export const templateString = (max: number = TEMPLATE_LIMITS.maxLength) =>
  z.string().max(max).superRefine((value, ctx) => {
    const problem = checkTemplateCached(value, Math.max(max, TEMPLATE_LIMITS.maxLength));
    if (problem) ctx.addIssue(issue(problem.code, problem.message));
  });

export const singleLineTemplate = (max: number) => templateString(max).refine((s) => !hasLineBreak(s), singleLineRefinement);

/** A plain (rendered) single-line string. */
export const singleLine = (max: number) => z.string().max(max).refine((s) => !hasLineBreak(s), singleLineRefinement);

export const factReference = z
  .strictObject({
    source: z.literal('fact'),
    fact: z.string().min(1).max(100),
    path: z.string().max(500).optional(),
  })
  .superRefine((ref, ctx) => {
    if (ref.path === undefined) return;
    const problem = checkJsonPath(ref.path);
    if (problem) ctx.addIssue(issue(problem.code, problem.message, ['path']));
  });

export type RecipientKind = 'sms' | 'email';

const RECIPIENT_RULES: Record<RecipientKind, { test: (s: string) => boolean; message: string }> = {
  sms: { test: isE164, message: 'SMS recipient must be an E.164 number such as +15557654321' },
  email: { test: isEmailAddress, message: 'email recipient must be an email address' },
};

/** A rule's recipient: a literal (checked when it has no template) or a fact reference. */
export const recipientField = (kind: RecipientKind) => {
  const literal = singleLineTemplate(MAX_EMAIL_LENGTH);
  return hinted(
    z.unknown().superRefine((value, ctx) => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const ref = factReference.safeParse(value);
        if (!ref.success) for (const i of toCustomAll(ref.error.issues)) ctx.addIssue(i);
        else if (ref.data.path !== undefined && ref.data.path !== '' && ref.data.path !== '$') {
          // A path that can match many values (`$..phone`, `[*]`, unions, slices) resolves to an
          // array, never to the one address a send needs: every run would fail.
          const problem = checkSingleValuePath(ref.data.path);
          if (problem) ctx.addIssue(issue(problem.code, `a recipient path must name one value: ${problem.message}`, ['path']));
        }
        return;
      }
      if (typeof value !== 'string') {
        ctx.addIssue(issue(value === undefined ? 'required' : 'invalid_type', 'recipient is required: a literal or { "source": "fact", "fact": ..., "path": ... }'));
        return;
      }
      const parsed = literal.safeParse(value);
      if (!parsed.success) {
        for (const i of toCustomAll(parsed.error.issues)) ctx.addIssue(i);
        return;
      }
      if (value.includes('{{')) return;
      if (!RECIPIENT_RULES[kind].test(value)) ctx.addIssue(issue('invalid_recipient', RECIPIENT_RULES[kind].message));
    }),
    'recipient',
  );
};

/** A rendered recipient. */
export const renderedRecipient = (kind: RecipientKind) =>
  singleLine(MAX_EMAIL_LENGTH).superRefine((value, ctx) => {
    if (!RECIPIENT_RULES[kind].test(value)) ctx.addIssue(issue('invalid_recipient', `${RECIPIENT_RULES[kind].message}; got ${JSON.stringify(value.slice(0, 80))}`));
  });

/** Any JSON value, nested at most {@link MAX_JSON_DEPTH} levels (checked without recursion). */
export const boundedJson = () =>
  z.unknown().superRefine((value, ctx) => {
    const problem = checkJsonShape(value, MAX_JSON_DEPTH);
    if (problem) ctx.addIssue(issue(problem.code, problem.message, problem.path));
  });
