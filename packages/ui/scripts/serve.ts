// `npm run serve -w @crm-automation/ui`: the built UI next to a real rules service on 127.0.0.1 (memory
// store, recording gateways, the design doc's two rules), for trying the UI by hand. PORT=3000 to pin it.
import { highValueJobRule, technicianSmsRule } from '@crm-automation/testing';
import { ensureBuiltApp } from '../test/e2e/browser.js';
import { startRulesService } from '../test/e2e/rules-service.js';

ensureBuiltApp();
const service = await startRulesService({ port: process.env['PORT'] ? Number(process.env['PORT']) : undefined });
await service.api('POST', '/rules', technicianSmsRule);
await service.api('POST', '/rules', highValueJobRule);
console.log(`Automation Builder: ${service.uiUrl}`);
console.log(`API key:            ${service.apiKey}`);
console.log('Ctrl-C to stop.');
process.once('SIGINT', () => {
  void service.close().then(() => process.exit(0));
});
