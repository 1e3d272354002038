import { createMemoryIdempotencyStore, createRecordingChannel, withTracing, type RecordingChannel } from '@crm-automation/core';
import { buildNotificationApp } from '@crm-automation/http';
import type { SpanRecorder } from './span-recorder.js';

export const SERVICE_TOKEN = 'otel-test-service-token-0123456789';

/** A Notification Service on 127.0.0.1 whose gateways (recording stand-ins) are traced by `recorder`. */
export async function startNotificationService(recorder: SpanRecorder): Promise<{ url: string; sent: Record<string, RecordingChannel>; close(): Promise<void> }> {
  const sent = { sms: createRecordingChannel({ name: 'twilio' }), email: createRecordingChannel({ name: 'sendgrid' }), webhook: createRecordingChannel({ name: 'webhook' }) };
  const channels = Object.fromEntries(Object.entries(sent).map(([type, gateway]) => [type, withTracing(gateway, recorder.tracer)]));
  const app = await buildNotificationApp({ channels, idempotency: createMemoryIdempotencyStore(), auth: { tokens: [SERVICE_TOKEN] } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, sent, close: () => app.close() };
}
