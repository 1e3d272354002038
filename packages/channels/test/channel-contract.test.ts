import { createRecordingChannel, GatewayError } from '@crm-automation/core';
import { describeChannelContract } from '@crm-automation/testing';
import { createHttpChannels, createSendgridEmail, createSmtpEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import { startFakeNotificationService, SERVICE_TOKEN } from './support/fake-notification-service.js';
import { SENDGRID_API_KEY, SENDGRID_NOW_MS, startFakeSendgrid } from './support/fake-sendgrid.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './support/fake-twilio.js';
import { SMTP_PASS, SMTP_USER, startLocalSmtpServer } from './support/local-smtp-server.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

const SMS = { recipient: '+15557654321', message: 'Hi Jane Doe, job #J-5541 has been completed.' };
const EMAIL = { recipient: 'manager@crm.example', subject: 'New High-Value Job: #J-5541', body: 'A job over $2000 was created.' };
const BAD_SMS = [{ ...SMS, recipient: '555-1234' }, { ...SMS, recipient: '+15557654321\r\nX: y' }];
const BAD_EMAIL = [{ ...EMAIL, recipient: 'nobody' }, { ...EMAIL, subject: 'Hi\r\nBcc: victim@example.com' }];

describeChannelContract('twilio', async () => {
  const twilio = await startFakeTwilio();
  return {
    gateway: createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url }),
    receiver: twilio,
    command: { type: 'sms', params: SMS },
    invalidParams: BAD_SMS,
    // Twilio's Messages API has no field for a client idempotency key or custom metadata.
    capabilities: { idempotencyKey: false },
    close: () => twilio.close(),
  };
});

describeChannelContract('sendgrid', async () => {
  const sendgrid = await startFakeSendgrid();
  return {
    gateway: createSendgridEmail({ apiKey: SENDGRID_API_KEY, from: 'alerts@crm.example', baseUrl: sendgrid.url, now: () => SENDGRID_NOW_MS }),
    receiver: sendgrid,
    command: { type: 'email', params: EMAIL },
    invalidParams: BAD_EMAIL,
    close: () => sendgrid.close(),
  };
});

describeChannelContract('smtp', async () => {
  const server = await startLocalSmtpServer();
  const gateway = createSmtpEmail({ host: '127.0.0.1', port: server.port, auth: { user: SMTP_USER, pass: SMTP_PASS }, from: 'crm@crm.example' });
  return {
    gateway,
    receiver: server,
    command: { type: 'email', params: EMAIL },
    invalidParams: BAD_EMAIL,
    // SMTP replies carry no Retry-After.
    capabilities: { retryAfter: false },
    close: async () => {
      await gateway.close();
      await server.close();
    },
  };
});

describeChannelContract('webhook', async () => {
  const secret = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
  const receiver = await startWebhookReceiver(secret);
  return {
    gateway: createWebhook({ signingSecret: secret, allowHosts: ['receiver.test'], lookup: async () => [{ address: '127.0.0.1', family: 4 }] }),
    receiver,
    command: { type: 'webhook', params: { url: `http://receiver.test:${receiver.port}/hooks/lead`, method: 'POST', headers: {}, payload: { jobId: 'job_1' } } },
    invalidParams: [
      { url: 'http://169.254.169.254/latest/meta-data/', method: 'POST', headers: {}, payload: {} },
      { url: `http://receiver.test:${receiver.port}/x`, method: 'POST', headers: { 'X-A': 'b\r\nc: d' }, payload: {} },
    ],
    close: () => receiver.close(),
  };
});

describeChannelContract('http channels (remote Notification Service)', async () => {
  const service = await startFakeNotificationService();
  const channels = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN });
  return {
    gateway: channels['sms'] ?? createRecordingChannel(),
    receiver: service,
    command: { type: 'sms', params: SMS },
    close: () => service.close(),
  };
});

describeChannelContract('recording channel (core)', () => {
  const channel = createRecordingChannel();
  return {
    gateway: channel,
    receiver: {
      deliveries: () => channel.sent.map((c) => ({ recipient: c.params['recipient'] as string, idempotencyKey: c.metadata.idempotencyKey })),
      failNextTransient: (seconds?: number) =>
        channel.failNext(new GatewayError('recording: transient', { retryable: true, provider: 'recording', ...(seconds === undefined ? {} : { retryAfterMs: seconds * 1000 }) })),
      failNextPermanent: () => channel.failNext(new GatewayError('recording: permanent', { retryable: false, provider: 'recording' })),
    },
    command: { type: 'sms', params: SMS },
  };
});
