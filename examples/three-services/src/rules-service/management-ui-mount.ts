import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { managementUi } from '@crm-automation/ui';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * Serves the Management UI (the Automation Builder, `@crm-automation/ui`) at `/ui`, next to the
 * Rules API it calls at the same origin. The app's build ships in the package's `dist/app`; in a
 * fresh checkout it exists after `npm run build` (or `npm run build -w @crm-automation/ui`), and
 * until then the service runs without the UI and says so.
 */
export async function mountManagementUi(app: FastifyInstance, logger: Logger): Promise<boolean> {
  const root = join(dirname(createRequire(import.meta.url).resolve('@crm-automation/ui/package.json')), 'dist', 'app');
  if (!existsSync(join(root, 'index.html'))) {
    logger.warn({ root }, 'Management UI not built: run `npm run build -w @crm-automation/ui` to serve it at /ui');
    return false;
  }
  await app.register(managementUi, { prefix: '/ui', root });
  logger.info({ path: '/ui' }, 'Management UI mounted');
  return true;
}
