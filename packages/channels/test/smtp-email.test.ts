import { describe, expect, it } from 'vitest';
import { commandOf } from './support/commands.js';
import { closedPort } from './support/local-http-server.js';
import { SMTP_USER, type LocalSmtpServer } from './support/local-smtp-server.js';
import { failure } from './support/webhook-command.js';
import { smtpServerPerTest } from './support/per-test.js';

const email = (params: Record<string, unknown> = {}) => commandOf('email', { recipient: 'jane@crm.example', subject: 'Job J-5541 completed', body: 'The job is done.', ...params });

describe('createSmtpEmail against a real SMTP server', () => {
  let server: LocalSmtpServer;
  const gateway = smtpServerPerTest((started) => (server = started));

  it('authenticates, delivers the message and returns its Message-ID', async () => {
    const command = email({ html: '<p>The job is done.</p>' });
    const result = await gateway().send(command);
    expect(server.authenticated).toEqual([SMTP_USER]);
    expect(server.mails).toHaveLength(1);
    const mail = server.mails[0];
    expect(mail?.from).toBe('crm@crm.example');
    expect(mail?.to).toEqual(['jane@crm.example']);
    expect(mail?.headers['subject']).toBe('Job J-5541 completed');
    expect(mail?.headers['x-automation-idempotency-key']).toBe(command.metadata.idempotencyKey);
    expect(mail?.raw).toContain('The job is done.');
    expect(mail?.raw).toContain('<p>The job is done.</p>');
    expect(result).toMatchObject({ provider: 'smtp', id: mail?.headers['message-id'], status: 250 });
  });

  it('derives the Message-ID from the idempotency key, so a resend carries the same one', async () => {
    const command = email();
    await gateway().send(command);
    await gateway().send(command);
    await gateway().send(email());
    const ids = server.mails.map((m) => m.headers['message-id']);
    expect(ids[0]).toMatch(/^<[0-9a-f]{32}@crm\.example>$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('a 550 reply is permanent and keeps the SMTP code', async () => {
    server.failNext({ at: 'rcpt', code: 550, message: '5.1.1 Mailbox does not exist' });
    const error = await failure(gateway().send(email()));
    expect(error).toMatchObject({ code: 'CRM_ERR_GATEWAY', retryable: false, providerCode: 550, status: 550, provider: 'smtp' });
    expect(String(error['response'])).toContain('Mailbox does not exist');
  });

  it('a 451 reply (greylisting) is transient', async () => {
    server.failNext({ at: 'data', code: 451, message: '4.7.1 Try again later' });
    expect(await failure(gateway().send(email()))).toMatchObject({ retryable: true, providerCode: 451 });
  });

  it('bad credentials (535) are permanent', async () => {
    const error = await failure(gateway({ auth: { user: SMTP_USER, pass: 'wrong' } }).send(email()));
    expect(error).toMatchObject({ retryable: false, providerCode: 535 });
  });

  it('a refused connection is transient', async () => {
    const port = await closedPort();
    const error = await failure(gateway({ port }).send(email()));
    expect(error).toMatchObject({ retryable: true, provider: 'smtp' });
  });

  it('a templateId needs renderTemplate; with it the rendered parts are sent', async () => {
    const command = email({ body: undefined, templateId: 'job-done', templateData: { job: { number: 'J-5541' } } });
    expect(await failure(gateway().send(command))).toMatchObject({ retryable: false, providerCode: 'template_unsupported' });
    const rendered = gateway({
      renderTemplate: (id, data) => ({ subject: `Rendered ${id}`, text: `Job ${(data['job'] as { number: string }).number} is done.` }),
    });
    await rendered.send(command);
    expect(server.mails[0]?.headers['subject']).toBe('Rendered job-done');
    expect(server.mails[0]?.raw).toContain('Job J-5541 is done.');
    const injected = gateway({ renderTemplate: () => ({ subject: 'x\r\nBcc: victim@example.com', text: 't' }) });
    expect(await failure(injected.send(command))).toMatchObject({ retryable: false, providerCode: 'header_injection' });
    expect(server.mails).toHaveLength(1);
  });

  it.each([
    [{ recipient: 'jane@crm.example\r\nBcc: victim@example.com' }],
    [{ recipient: 'Jane <jane@crm.example>' }],
    [{ subject: 'Hi\r\nBcc: victim@example.com' }],
  ])('refuses %j permanently without talking to the server', async (params) => {
    expect(await failure(gateway().send(email(params)))).toMatchObject({ retryable: false });
    expect(server.mails).toHaveLength(0);
    expect(server.authenticated).toHaveLength(0);
  });
});
