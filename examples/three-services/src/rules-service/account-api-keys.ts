import { apiKeyAuth, generateApiKey, hashApiKey, type ApiKeyRecord, type Authenticate } from '@crm-automation/http';
import type { Logger } from 'pino';
import type { RulesServiceConfig } from './config.js';

/**
 * Who may call the Rules API. In production only hashes are configured (`RULES_API_KEYS`); in
 * development a plain key is taken from `DEV_API_KEY`, or made up, and printed once so the README's
 * curl commands can use it.
 */
export function accountAuthentication(config: RulesServiceConfig, logger: Logger): Authenticate {
  const keys: ApiKeyRecord[] = [...(config.RULES_API_KEYS ?? [])];
  if (config.NODE_ENV !== 'production' && (config.DEV_API_KEY || keys.length === 0)) {
    const key = config.DEV_API_KEY ?? generateApiKey().key;
    keys.push({ hash: hashApiKey(key), accountId: config.DEV_ACCOUNT_ID, id: 'dev-key' });
    // Printed, not logged: a development convenience that must not end up in a log pipeline.
    process.stdout.write(`\n  Rules API dev key for account ${config.DEV_ACCOUNT_ID}:  ${key}\n\n`);
  }
  logger.info({ keys: keys.map((k) => ({ accountId: k.accountId, id: k.id ?? `key:${k.hash.slice(0, 8)}` })) }, 'rules API keys loaded');
  return apiKeyAuth({ keys });
}
