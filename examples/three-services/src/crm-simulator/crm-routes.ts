import type { AutomationEvent } from '@crm-automation/core';
import { HttpError, useStrictJsonBodies } from '@crm-automation/http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Job, JobBook } from './job-book.js';

export interface CrmRoutesOptions {
  jobs: JobBook;
  /** Resolves once the bus took the event (the broker's confirm). */
  publish: (event: AutomationEvent) => Promise<unknown>;
  logger: Logger;
}

const id = z.string().min(1).max(200);
const jobParams = z.object({ accountId: id, jobId: id });
const jobBody = z.record(z.string(), z.unknown());
const statusBody = z.object({ status: z.string().min(1).max(100) });

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `invalid ${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/** The CRM simulator's job API (see `crm-server.ts`). */
export async function crmRoutes(app: FastifyInstance, options: CrmRoutesOptions): Promise<void> {
  // UTF-8 JSON only, each key once: a text body would reach the routes as a string (encapsulated: this plugin's routes only).
  useStrictJsonBodies(app);
  const noJob = (accountId: string, jobId: string) => ({ error: { code: 'CRM_ERR_HTTP_NOT_FOUND', message: `no job ${jobId} in account ${accountId}` }, resource: 'job' });

  app.get('/accounts/:accountId/jobs/:jobId', async (request, reply) => {
    const { accountId, jobId } = parse(jobParams, request.params, 'path');
    const job = options.jobs.get(accountId, jobId);
    return job ? { job } : reply.code(404).send(noJob(accountId, jobId));
  });
  app.put('/accounts/:accountId/jobs/:jobId', async (request) => {
    const { accountId, jobId } = parse(jobParams, request.params, 'path');
    const body = parse(jobBody, request.body, 'body');
    if (body['id'] !== undefined && body['id'] !== jobId) throw new HttpError(400, 'CRM_ERR_HTTP_BAD_REQUEST', `the body's id ${JSON.stringify(body['id'])} is not the path's ${jobId}`);
    return { job: options.jobs.put(accountId, { ...body, id: jobId } as Job) };
  });
  app.delete('/accounts/:accountId/jobs/:jobId', async (request, reply) => {
    const { accountId, jobId } = parse(jobParams, request.params, 'path');
    return options.jobs.delete(accountId, jobId) ? reply.code(204).send() : reply.code(404).send(noJob(accountId, jobId));
  });
  app.post('/accounts/:accountId/jobs/:jobId/status', async (request, reply) => {
    const { accountId, jobId } = parse(jobParams, request.params, 'path');
    const { status } = parse(statusBody, request.body, 'body');
    const changed = options.jobs.setStatus(accountId, jobId, status);
    if (!changed) return reply.code(404).send(noJob(accountId, jobId));
    // Answered once the broker confirmed it: the caller may then rely on the event being on its way.
    await options.publish(changed.event);
    options.logger.info({ accountId, jobId, status, eventId: changed.event.id }, 'job status changed');
    return { job: changed.job, event: { id: changed.event.id, name: changed.event.name, timestamp: changed.event.timestamp } };
  });
}
