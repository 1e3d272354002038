import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

/** How the Rules API suite's parts call the app: one injected request, with account A's key unless `key` says another (`null`: none). */
export type RulesApiCall = (options: InjectOptions & { key?: string | null }) => Promise<LightMyRequestResponse>;

/** An answer's JSON, loosely typed: the suite checks its shapes with assertions and the OpenAPI document. */
export type Json = Record<string, any>;
export const json = (r: LightMyRequestResponse) => r.json() as Json;

/** The ISO time `ms` after `base`: events and due times of the suite's timelines. */
export const isoAfter = (base: Date, ms: number) => new Date(base.getTime() + ms).toISOString();

/** Posts an event through `POST /events`, expects it accepted (202), and answers what the route said (its triggers). */
export function eventPoster(call: RulesApiCall) {
  return async (name: string, id: string, payload: Record<string, unknown>, timestamp: string): Promise<Json> => {
    const response = await call({ method: 'POST', url: '/events', payload: { name, id, payload, timestamp } });
    expect(response.statusCode, response.body).toBe(202);
    return json(response);
  };
}
