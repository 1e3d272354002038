import { CliError } from './cli-error.js';

/** The adapters the CLI can use: optional peer dependencies, installed for the store and bus the services use. */
export type AdapterPackage = '@crm-automation/adapter-mongo' | '@crm-automation/adapter-postgres' | '@crm-automation/adapter-rabbitmq' | '@crm-automation/adapter-kafka';

function isPackageMissing(error: unknown, packageName: AdapterPackage): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // ESM says "Cannot find package '<name>'", require "Cannot find module '<name>'"; a module missing
  // inside an installed adapter is that adapter's failure, not a missing peer.
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${packageName}'`);
}

/**
 * Imports an adapter when a command first needs it (`load` is `() => import('<packageName>')`, kept
 * literal so bundlers and the type checker see the specifier), or fails with `CRM_ERR_CLI_CONFIG`
 * naming the package to install.
 */
export async function loadAdapter<Module>(packageName: AdapterPackage, neededFor: string, load: () => Promise<Module>): Promise<Module> {
  try {
    return await load();
  } catch (error) {
    if (!isPackageMissing(error, packageName)) throw error;
    throw new CliError('CRM_ERR_CLI_CONFIG', `${neededFor} needs ${packageName}, an optional peer dependency of @crm-automation/cli: run \`npm install ${packageName}\``);
  }
}
