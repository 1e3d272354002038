import { afterEach, describe, expect, it } from 'vitest';
import * as main from '@crm-automation/channels';
import { createRedisIdempotencyStore } from '@crm-automation/channels/redis';
import { createSmtpEmail } from '@crm-automation/channels/smtp';
import { loadOptionalPeer } from '../src/optional-peer.js';
import { commandOf } from './support/commands.js';
import { SMTP_PASS, SMTP_USER, startLocalSmtpServer, type LocalSmtpServer } from './support/local-smtp-server.js';

// The `/smtp` and `/redis` entries import their driver; the main entry's factories of the same name
// load it on first call. Both must reach the same implementation.
describe('the /smtp and /redis entries', () => {
  let server: LocalSmtpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('/smtp delivers through a real SMTP server, as the deprecated main-entry export does', async () => {
    const smtp = await startLocalSmtpServer();
    server = smtp;
    const options = { host: '127.0.0.1', port: smtp.port, secure: false, auth: { user: SMTP_USER, pass: SMTP_PASS }, from: 'crm@crm.example', timeoutMs: 5_000 };
    for (const create of [createSmtpEmail, main.createSmtpEmail]) {
      const gateway = create(options);
      try {
        const result = await gateway.send(commandOf('email', { recipient: 'jane@crm.example', subject: 'Job done', body: 'The job is done.' }));
        expect(result).toMatchObject({ provider: 'smtp', status: 250 });
      } finally {
        await gateway.close();
      }
    }
    expect(smtp.mails.map((m) => m.to)).toEqual([['jane@crm.example'], ['jane@crm.example']]);
  });

  it('/redis and the deprecated main-entry export check their options the same way', () => {
    for (const create of [createRedisIdempotencyStore, main.createRedisIdempotencyStore]) {
      expect(() => create({})).toThrow(expect.objectContaining({ code: 'CRM_ERR_CONFIG', message: 'createRedisIdempotencyStore needs a client or a url' }));
    }
  });
});

describe('loadOptionalPeer', () => {
  it('loads an installed package', () => {
    const nodemailer = loadOptionalPeer<{ createTransport: unknown }>('nodemailer', 'createSmtpEmail', '@crm-automation/channels/smtp');
    expect(typeof nodemailer.createTransport).toBe('function');
  });

  it('names the package to install and the entry to import from when it is missing', () => {
    let caught: unknown;
    try {
      loadOptionalPeer('@crm-automation/not-installed-driver', 'createThing', '@crm-automation/channels/thing');
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      code: 'CRM_ERR_CONFIG',
      message: 'createThing needs @crm-automation/not-installed-driver, an optional peer dependency of @crm-automation/channels: run `npm install @crm-automation/not-installed-driver` and import createThing from @crm-automation/channels/thing',
    });
    expect((caught as Error).cause).toMatchObject({ code: 'MODULE_NOT_FOUND' });
  });
});
