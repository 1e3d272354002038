/**
 * Makes a Rules API key for an account: `npm run api-key -w @crm-automation/example-three-services -- acc_12345`.
 * Prints the key (give it to the account, once) and the `RULES_API_KEYS` entry (store only this).
 */
import { generateApiKey } from '@crm-automation/http';

const accountId = process.argv[2] ?? 'acc_12345';
const { key, hash } = generateApiKey();
process.stdout.write(`key (shown once):      ${key}\nRULES_API_KEYS entry:  ${accountId}:${hash}\n`);
