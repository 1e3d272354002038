import { describe, expect, it } from 'vitest';
import { loadAdapter, type AdapterPackage } from '../src/load-adapter.js';

// A package name nothing installs, imported for real: the error is the runtime's own, not a stand-in.
const MISSING = '@crm-automation/adapter-not-installed' as AdapterPackage;
const importMissing = () => import(/* @vite-ignore */ String(MISSING)) as Promise<unknown>;

describe('loadAdapter', () => {
  it('returns the module when the adapter is installed', async () => {
    const mongo = await loadAdapter('@crm-automation/adapter-mongo', 'a MongoDB store (MONGODB_URI)', () => import('@crm-automation/adapter-mongo'));
    expect(typeof mongo.createMongoStore).toBe('function');
  });

  it('names the package to install when the adapter is missing', async () => {
    await expect(loadAdapter(MISSING, 'dead-letters --bus kafka', importMissing)).rejects.toMatchObject({
      name: 'CliError',
      code: 'CRM_ERR_CLI_CONFIG',
      message: 'dead-letters --bus kafka needs @crm-automation/adapter-not-installed, an optional peer dependency of @crm-automation/cli: run `npm install @crm-automation/adapter-not-installed`',
    });
  });

  it('passes on other failures: a missing module inside an installed adapter is not a missing peer', async () => {
    await expect(loadAdapter('@crm-automation/adapter-kafka', 'dead-letters --bus kafka', importMissing)).rejects.not.toMatchObject({ name: 'CliError' });
  });
});
