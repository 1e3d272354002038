import type { Job } from './job-book.js';

/**
 * The CRM simulator's job API, for the simulator's command line, the trigger service's `facts.job`
 * loader and the tests. Paths: `/accounts/:accountId/jobs/:jobId` (GET, PUT, DELETE) and
 * `/accounts/:accountId/jobs/:jobId/status` (POST `{ status }`: saved, then published).
 */
export const jobPath = (accountId: string, jobId: string) => `/accounts/${encodeURIComponent(accountId)}/jobs/${encodeURIComponent(jobId)}`;

/** The CRM did not answer as its API says (down, slow, or another server at that address). */
export class CrmRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CrmRequestError';
  }
}

async function call(baseUrl: string, method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(`${baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    throw new CrmRequestError(`CRM ${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
  }
}

async function expectOk<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new CrmRequestError(`CRM ${what} answered ${response.status}: ${(await response.text()).slice(0, 200)}`, response.status);
  return (await response.json()) as T;
}

/**
 * The job as the CRM has it now, or null when the CRM says it has no such job. A 404 from anything
 * else (a wrong CRM_URL, a proxy) is an error, not a missing job: mistaking it for one would skip
 * every run quietly.
 */
export async function getJob(baseUrl: string, accountId: string, jobId: string, signal?: AbortSignal): Promise<Job | null> {
  const response = await call(baseUrl, 'GET', jobPath(accountId, jobId), undefined, signal);
  if (response.status === 404) {
    const body = (await response.json().catch(() => null)) as { resource?: unknown } | null;
    if (body?.resource === 'job') return null;
    throw new CrmRequestError(`CRM GET ${jobPath(accountId, jobId)} answered 404 without naming a job: is CRM_URL the CRM simulator?`, 404);
  }
  return (await expectOk<{ job: Job }>(response, `GET ${jobPath(accountId, jobId)}`)).job;
}

export async function putJob(baseUrl: string, accountId: string, job: Job, signal?: AbortSignal): Promise<Job> {
  return (await expectOk<{ job: Job }>(await call(baseUrl, 'PUT', jobPath(accountId, job.id), job, signal), `PUT ${jobPath(accountId, job.id)}`)).job;
}

export async function deleteJob(baseUrl: string, accountId: string, jobId: string, signal?: AbortSignal): Promise<void> {
  const response = await call(baseUrl, 'DELETE', jobPath(accountId, jobId), undefined, signal);
  if (!response.ok && response.status !== 404) throw new CrmRequestError(`CRM DELETE ${jobPath(accountId, jobId)} answered ${response.status}`, response.status);
  await response.body?.cancel();
}

/** Changes a job's status: the CRM saves it, then publishes `job.status.changed`; resolves once it is published. */
export async function setJobStatus(baseUrl: string, accountId: string, jobId: string, status: string, signal?: AbortSignal): Promise<{ job: Job; event: { id: string; name: string; timestamp: string } }> {
  const path = `${jobPath(accountId, jobId)}/status`;
  return expectOk(await call(baseUrl, 'POST', path, { status }, signal), `POST ${path}`);
}
