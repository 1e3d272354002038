import type { RuleSource } from '@crm-automation/core';
import { HttpError, replyWithError, serviceTokenAuth } from '@crm-automation/http';
import { parseRequestPart } from '../runtime/request-input.js';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

export interface InternalRuleRoutesOptions {
  rules: RuleSource;
  /** Tokens the trigger service presents. */
  tokens: readonly string[];
}

const findQuery = z.object({ accountId: z.string().min(1).max(200), eventName: z.string().min(1).max(200) });
const getQuery = z.object({ accountId: z.string().min(1).max(200) });

/**
 * The rule lookups of the REST pattern (the design doc's Option 1), for the trigger service only:
 * service-token auth, and the account passed explicitly because the caller acts for every account.
 * - `GET /internal/v1/rules?accountId=&eventName=` → `{ items: Rule[] }` (enabled rules for the event)
 * - `GET /internal/v1/rules/:id?accountId=` → the rule, or 404 when it no longer exists
 */
export const internalRuleRoutes: FastifyPluginAsync<InternalRuleRoutesOptions> = async (app: FastifyInstance, options) => {
  app.addHook('onRequest', serviceTokenAuth({ tokens: options.tokens, realm: 'rules-internal' }));
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));

  app.get('/internal/v1/rules', async (request) => {
    const { accountId, eventName } = parseRequestPart(findQuery, request.query, 'query');
    return { items: await options.rules.findRulesForEvent(accountId, eventName) };
  });

  app.get('/internal/v1/rules/:id', async (request) => {
    const { accountId } = parseRequestPart(getQuery, request.query, 'query');
    const id = (request.params as { id: string }).id;
    const rule = await options.rules.getRule(accountId, id);
    if (!rule) throw new HttpError(404, 'CRM_ERR_RULE_NOT_FOUND', `Rule ${JSON.stringify(id)} not found`);
    return rule;
  });
};
