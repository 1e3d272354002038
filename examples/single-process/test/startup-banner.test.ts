import { describe, expect, it } from 'vitest';
import { startupBanner } from '../src/app/startup-banner.js';

describe('the start-up lines', () => {
  it('give a made-up key with the command that keeps it', () => {
    const text = startupBanner({ host: '127.0.0.1', port: 3000, uiBuilt: true, devKey: { accountId: 'acc_12345', key: 'crm_abc', fromEnv: false } });
    expect(text).toBe(
      [
        '',
        '  listening on http://127.0.0.1:3000',
        '  Management UI:  http://127.0.0.1:3000/ui/',
        '  API key for account acc_12345 (development):  crm_abc',
        '  A new key is made up on every start; to keep this one:  DEV_API_KEY=crm_abc npm run app -w @crm-automation/example-single-process',
        '',
        '',
      ].join('\n'),
    );
  });

  it('say how to build the UI when it is not built, and name a browsable address for a wildcard host', () => {
    const text = startupBanner({ host: '0.0.0.0', port: 8080, uiBuilt: false, devKey: { accountId: 'acc_1', key: 'crm_kept', fromEnv: true } });
    expect(text).toContain('  listening on http://127.0.0.1:8080\n');
    expect(text).toContain('  Management UI:  http://127.0.0.1:8080/ui/   (not built yet: npm run build -w @crm-automation/ui, then restart)\n');
    expect(text).toContain('  API key for account acc_1 (development, from DEV_API_KEY):  crm_kept\n');
    expect(text).not.toContain('to keep this one');
    expect(startupBanner({ host: '::1', port: 1, uiBuilt: true })).toBe('\n  listening on http://[::1]:1\n  Management UI:  http://[::1]:1/ui/\n\n');
  });
});
