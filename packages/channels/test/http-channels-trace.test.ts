import { describe, expect, it } from 'vitest';
import { createHttpChannels } from '@crm-automation/channels';
import { commandOf } from './support/commands.js';
import { SERVICE_TOKEN, startFakeNotificationService, type FakeNotificationService } from './support/fake-notification-service.js';
import { serverPerTest } from './support/per-test.js';

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('createHttpChannels trace context', () => {
  let service: FakeNotificationService;
  serverPerTest(startFakeNotificationService, (started) => (service = started));

  it('sends the command trace as traceparent / tracestate headers, not in the body', async () => {
    const channels = createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN });
    const command = { ...commandOf('sms', { recipient: '+15557654321', message: 'hi' }), trace: { traceparent, tracestate: 'crm=1' } };
    await channels['sms']?.send(command);
    expect(service.requests[0]?.headers['traceparent']).toBe(traceparent);
    expect(service.requests[0]?.headers['tracestate']).toBe('crm=1');
    expect(service.commands[0]?.body).toEqual({ recipient: '+15557654321', message: 'hi', metadata: command.metadata });
  });

  it('sends no trace header for a command without trace context', async () => {
    await createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(commandOf('sms', { recipient: '+15557654321', message: 'hi' }));
    expect(service.requests[0]?.headers['traceparent']).toBeUndefined();
  });

  it('never lets a carrier override the request headers or smuggle a header line', async () => {
    const command = {
      ...commandOf('sms', { recipient: '+15557654321', message: 'hi' }),
      trace: { traceparent, Authorization: 'Bearer stolen', 'idempotency-key': 'other', tracestate: 'a=1\r\nx-evil: 1', 'bad name': 'x' },
    };
    await createHttpChannels({ baseUrl: service.url, token: SERVICE_TOKEN })['sms']?.send(command);
    const headers = service.requests[0]?.headers ?? {};
    expect(headers['authorization']).toBe(`Bearer ${SERVICE_TOKEN}`);
    expect(headers['idempotency-key']).toBe(command.metadata.idempotencyKey);
    expect(headers['traceparent']).toBe(traceparent);
    expect(headers['tracestate']).toBeUndefined();
    expect(headers['x-evil']).toBeUndefined();
  });
});
