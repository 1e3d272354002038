import { describe, expect, it } from 'vitest';
import { createSendgridEmail } from '@crm-automation/channels';
import { commandOf } from './support/commands.js';
import { SENDGRID_API_KEY, SENDGRID_NOW_MS, startFakeSendgrid, type FakeSendgrid } from './support/fake-sendgrid.js';
import { failure } from './support/webhook-command.js';
import { fakeProviderPerTest } from './support/per-test.js';

const email = (params: Record<string, unknown> = {}) =>
  commandOf('email', { recipient: 'manager@crm.example', subject: 'New High-Value Job: #J-5541', body: 'A job over $2000 was created.', ...params });

describe('createSendgridEmail', () => {
  let sendgrid: FakeSendgrid;
  fakeProviderPerTest(startFakeSendgrid, (started) => (sendgrid = started));

  const gateway = (extra: Record<string, unknown> = {}) =>
    createSendgridEmail({ apiKey: SENDGRID_API_KEY, from: { email: 'alerts@crm.example', name: 'CRM Alerts' }, baseUrl: sendgrid.url, now: () => SENDGRID_NOW_MS, ...extra });

  it('POSTs v3 mail/send JSON with subject and text/plain then text/html content; returns X-Message-Id', async () => {
    const command = email({ html: '<p>A job over $2000 was created.</p>' });
    const result = await gateway().send(command);
    expect(sendgrid.mails).toHaveLength(1);
    const mail = sendgrid.mails[0];
    expect(mail).toMatchObject({
      personalizations: [{ to: [{ email: 'manager@crm.example' }] }],
      from: { email: 'alerts@crm.example', name: 'CRM Alerts' },
      subject: 'New High-Value Job: #J-5541',
      content: [
        { type: 'text/plain', value: 'A job over $2000 was created.' },
        { type: 'text/html', value: '<p>A job over $2000 was created.</p>' },
      ],
      custom_args: { idempotencyKey: command.metadata.idempotencyKey, triggerId: command.metadata.triggerId, ruleId: 'rule_1', accountId: 'acc_12345' },
    });
    expect(mail?.template_id).toBeUndefined();
    expect(result).toEqual({ provider: 'sendgrid', id: mail?.messageId, status: 202 });
  });

  it('with a templateId sends template_id and the event payload as dynamic_template_data', async () => {
    const payload = { job: { id: 'job_abc123', number: 'J-5541', total: 2500, client: { name: 'Acme', type: 'Commercial' } } };
    await gateway().send(email({ body: undefined, templateId: 'd-0123456789abcdef', templateData: payload }));
    const mail = sendgrid.mails[0];
    expect(mail?.template_id).toBe('d-0123456789abcdef');
    expect(mail?.personalizations[0]?.dynamic_template_data).toEqual(payload);
    expect(mail?.content).toBeUndefined();
  });

  it('400 is permanent and carries SendGrid errors[].message', async () => {
    sendgrid.failNext({ kind: 'bad-request' });
    const error = await failure(gateway().send(email()));
    expect(error).toMatchObject({ retryable: false, status: 400, provider: 'sendgrid' });
    expect(error['message']).toBe('sendgrid answered 400: personalizations.0.to.0.email: Does not contain a valid address.');
    expect(String(error['response'])).toContain('"errors"');
  });

  it('429 is transient, waiting until X-RateLimit-Reset', async () => {
    sendgrid.failNext({ kind: 'rate-limited', resetInSeconds: 42 });
    expect(await failure(gateway().send(email()))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 42_000 });
  });

  it('5xx is transient', async () => {
    sendgrid.failNext({ kind: 'server-error' });
    expect(await failure(gateway().send(email()))).toMatchObject({ retryable: true, status: 500 });
  });

  it('a revoked key is permanent', async () => {
    const error = await failure(createSendgridEmail({ apiKey: 'SG.revoked', from: 'alerts@crm.example', baseUrl: sendgrid.url }).send(email()));
    expect(error).toMatchObject({ retryable: false, status: 401 });
    expect(error['message']).toMatch(/authorization grant is invalid/);
    sendgrid.violations.length = 0;
  });

  it.each([
    [{ recipient: 'not-an-address' }, 'invalid_recipient', /must be an email address/],
    [{ recipient: 'a@example.com\r\nBcc: victim@example.com' }, 'header_injection', /line break/],
    [{ recipient: 'a@example.com, b@example.com' }, 'invalid_recipient', /must be an email address/],
    [{ recipient: `${'a'.repeat(320)}@example.com` }, 'too_big', /recipient/],
    [{ subject: 'Hello\r\nBcc: victim@example.com' }, 'header_injection', /line break/],
    [{ subject: 'Hello\nX-Injected: 1' }, 'header_injection', /line break/],
    [{ subject: 'x'.repeat(999) }, 'too_big', /subject/],
    [{ body: undefined }, 'missing_body', /needs a body, html or a templateId/],
    [{ subject: '' }, 'missing_subject', /needs a subject unless it names a templateId/],
    [{ subject: '   ' }, 'missing_subject', /needs a subject/],
    [{ subject: '\t' }, 'missing_subject', /needs a subject/],
    [{ templateData: 'nope', templateId: 'd-1' }, 'invalid_type', /templateData/],
    [{ templateId: 'd-1\r\nX: y' }, 'header_injection', /templateId/],
    [{ cc: 'x@example.com' }, 'unrecognized_keys', /cc/],
  ])('refuses %j permanently without calling SendGrid', async (params, providerCode, message) => {
    const error = await failure(gateway().send(email(params)));
    expect(error).toMatchObject({ retryable: false, providerCode });
    expect(error['message']).toMatch(message);
    expect(sendgrid.requests).toHaveLength(0);
  });

  it('refuses a sender that could inject headers', () => {
    expect(() => createSendgridEmail({ apiKey: 'k', from: 'a@example.com\r\nBcc: x@example.com' })).toThrow(/not an email address/);
    expect(() => createSendgridEmail({ apiKey: 'k', from: { email: 'a@example.com', name: 'A\nB' } })).toThrow(/line break/);
  });
});
