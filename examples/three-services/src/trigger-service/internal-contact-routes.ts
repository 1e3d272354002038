import type { AutomationEngine } from '@crm-automation/core';
import { replyWithError, serviceTokenAuth, useStrictJsonBodies } from '@crm-automation/http';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { parseRequestPart } from '../runtime/request-input.js';
import { CONTACT_API_PREFIX, contactRequests } from '../wire/contact-json.js';

export interface InternalContactRoutesOptions {
  engine: Pick<AutomationEngine, 'suppressions' | 'contactPolicy'>;
  /** Tokens the rules service presents. */
  tokens: readonly string[];
}

/**
 * The contact data for the rules service (service token), which has no contact store of its own: its
 * Rules API's `/suppressions` and `/contact-policy` routes call these through its engine's ports. Each
 * goes through this service's engine, so the checks, the change log and `suppression:changed` are
 * the ones a STOP reply goes through. POST with a JSON body naming the account, as every internal route:
 * `suppressions/{lookup,add,remove,list,changes}` and `policy/{get,set}`.
 */
export const internalContactRoutes: FastifyPluginAsync<InternalContactRoutesOptions> = async (app: FastifyInstance, options) => {
  const { suppressions, contactPolicy } = options.engine;
  app.addHook('onRequest', serviceTokenAuth({ tokens: options.tokens, realm: 'trigger-service-contact' }));
  app.setErrorHandler((error, request, reply) => replyWithError(error, request, reply));
  // UTF-8 JSON with each key once, as on every route of the SDK (encapsulated: these routes only).
  useStrictJsonBodies(app);

  app.post(`${CONTACT_API_PREFIX}/suppressions/lookup`, async (request) => {
    const { accountId, channel, recipient } = parseRequestPart(contactRequests.lookup, request.body, 'body');
    return { suppression: await suppressions.lookup(accountId, channel, recipient) };
  });
  app.post(`${CONTACT_API_PREFIX}/suppressions/add`, async (request) => {
    const { accountId, entry } = parseRequestPart(contactRequests.add, request.body, 'body');
    return suppressions.add(accountId, entry);
  });
  app.post(`${CONTACT_API_PREFIX}/suppressions/remove`, async (request) => {
    const { accountId, channel, recipient, change } = parseRequestPart(contactRequests.remove, request.body, 'body');
    return { removed: await suppressions.remove(accountId, channel, recipient, change) };
  });
  app.post(`${CONTACT_API_PREFIX}/suppressions/list`, async (request) => {
    const { accountId, filter } = parseRequestPart(contactRequests.list, request.body, 'body');
    return suppressions.list(accountId, filter);
  });
  app.post(`${CONTACT_API_PREFIX}/suppressions/changes`, async (request) => {
    const { accountId, filter } = parseRequestPart(contactRequests.changes, request.body, 'body');
    return suppressions.changes(accountId, filter);
  });
  app.post(`${CONTACT_API_PREFIX}/policy/get`, async (request) => {
    const { accountId } = parseRequestPart(contactRequests.policyGet, request.body, 'body');
    return { policy: await contactPolicy.get(accountId) };
  });
  app.post(`${CONTACT_API_PREFIX}/policy/set`, async (request) => {
    const { accountId, policy, expectedVersion } = parseRequestPart(contactRequests.policySet, request.body, 'body');
    return contactPolicy.set(accountId, policy, expectedVersion === undefined ? {} : { expectedVersion });
  });
};
