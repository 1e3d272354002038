import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getGlobalDispatcher, MockAgent, setGlobalDispatcher, type Dispatcher } from 'undici';
import { createTwilioSms } from '@crm-automation/channels';
import { commandOf } from './support/commands.js';
import { startFakeTwilio, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, type FakeTwilio } from './support/fake-twilio.js';

const run = promisify(execFile);

describe("HTTP gateways and the process's global dispatcher", () => {
  let twilio: FakeTwilio;
  beforeEach(async () => {
    twilio = await startFakeTwilio();
  });
  afterEach(async () => {
    await twilio.close();
  });

  const send = () =>
    createTwilioSms({ accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: '+15550001111', baseUrl: twilio.url }).send(
      commandOf('sms', { recipient: '+15557654321', message: 'Job J-5541 done' }),
    );

  it("still send when Node's built-in fetch set up the global dispatcher first (as the pg driver's import does)", async () => {
    const script = fileURLToPath(new URL('./support/send-after-fetch.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=source', script, twilio.url, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, result: { provider: 'twilio', status: 201 } });
    expect(twilio.messages).toHaveLength(1);
  }, 90_000);

  it("use the application's global dispatcher when it is one of undici's (a proxy agent, a mock)", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    const origin = new URL(twilio.url).origin;
    mock.get(origin).intercept({ path: /Messages\.json$/, method: 'POST' }).reply(201, { sid: 'SMmocked', status: 'queued' });
    const before = getGlobalDispatcher();
    setGlobalDispatcher(mock as unknown as Dispatcher);
    try {
      expect(getGlobalDispatcher()).toBe(mock);
      await expect(send()).resolves.toMatchObject({ id: 'SMmocked' });
      // The request went to the mock, not to the server.
      expect(twilio.messages).toHaveLength(0);
    } finally {
      setGlobalDispatcher(before);
      await mock.close();
    }
  });
});
