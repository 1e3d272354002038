import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * MANAGEMENT UI SPOT (issue 8): the Management UI (`@crm-automation/ui`, a Fastify plugin) is to be
 * served here at `/ui`, next to the Rules API it calls. It is registered once that package is
 * available in the workspace; until then the app runs without it.
 */
export async function mountManagementUi(_app: FastifyInstance, logger: Logger): Promise<void> {
  logger.debug({}, 'Management UI not mounted (package @crm-automation/ui not available)');
}
