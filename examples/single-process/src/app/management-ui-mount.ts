import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { managementUi } from '@crm-automation/ui';
import type { FastifyInstance } from 'fastify';

/**
 * Serves the Management UI (the Automation Builder, `@crm-automation/ui`) at `/ui`, next to the
 * Rules API it calls at the same origin. The app's build ships in the package's `dist/app`; in a
 * fresh checkout it exists after `npm run build` (or `npm run build -w @crm-automation/ui`), and
 * until then the plugin answers `/ui` with a page giving that command (and logs it). Returns
 * whether the build is there, for the start-up lines.
 */
export async function mountManagementUi(app: FastifyInstance): Promise<boolean> {
  await app.register(managementUi, { prefix: '/ui' });
  const root = join(dirname(createRequire(import.meta.url).resolve('@crm-automation/ui/package.json')), 'dist', 'app');
  return existsSync(join(root, 'index.html'));
}
