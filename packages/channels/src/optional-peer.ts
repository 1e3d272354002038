import { createRequire } from 'node:module';
import { AutomationError } from '@crm-automation/core';

// Resolved from this package's own location, as a static import would be, not from the working directory.
const requireFromHere = createRequire(import.meta.url);

function isMissing(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // Only the package itself missing: a module missing inside an installed package is its own failure.
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${packageName}'`);
}

/**
 * Loads an optional peer dependency on first use, synchronously because the factories that need it
 * are synchronous, or fails with `CRM_ERR_CONFIG` naming the package to install and the entry that
 * imports it directly.
 */
export function loadOptionalPeer<Module>(packageName: string, feature: string, entry: string): Module {
  try {
    return requireFromHere(packageName) as Module;
  } catch (error) {
    if (!isMissing(error, packageName)) throw error;
    throw new AutomationError(
      'CRM_ERR_CONFIG',
      `${feature} needs ${packageName}, an optional peer dependency of @crm-automation/channels: run \`npm install ${packageName}\` and import ${feature} from ${entry}`,
      { cause: error },
    );
  }
}
