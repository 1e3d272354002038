// Run as its own process (by global-dispatcher.test.ts): Node's built-in fetch is used before the
// channels package is loaded, as happens when an application imports the pg driver first.
const [baseUrl, accountSid, authToken] = process.argv.slice(2);
const early = await fetch(`${baseUrl}/nothing-here`);
await early.body?.cancel();
const { createTwilioSms } = await import('@crm-automation/channels');
const { commandOf } = await import('./commands.js');
try {
  const result = await createTwilioSms({ accountSid: accountSid ?? '', authToken: authToken ?? '', from: '+15550001111', baseUrl }).send(
    commandOf('sms', { recipient: '+15557654321', message: 'Job J-5541 done' }),
  );
  process.stdout.write(JSON.stringify({ ok: true, result }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) }));
}
