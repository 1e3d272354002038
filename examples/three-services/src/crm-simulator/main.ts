/**
 * The CRM, simulated: publishes the design doc's events to the bus, as the CRM app would.
 *
 *   npm run simulate -w @crm-automation/example-three-services -- [job-done] [high-value] [low-value] [--count N] [--account acc_12345] [--tag T]
 *
 * With no flow named, publishes one of each. A job-done is a status change made in the CRM: the job is
 * recorded in the CRM simulator's server (CRM_URL) and its status set to Done there, which saves it and
 * publishes `job.status.changed`; the trigger service's `facts.job` loader reads the same job when the
 * SMS is due. The job.created flows are published straight to the bus. Reads CRM_URL, TRANSPORT,
 * RABBITMQ_URL / KAFKA_BROKERS, BUS_PREFIX; their defaults are the launcher's
 * (`npm run example:three-services`): its CRM on 4105, the local servers of `scripts/services.sh up`
 * and the bus prefix `crm-example`, so that it can be run next to it as is.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { busEnv, openBus, requireTransportAddress } from '../runtime/bus-transport.js';
import { loadConfig, logLevel } from '../runtime/env-config.js';
import { LAUNCHER_BUS_PREFIX, LOCAL_SERVERS } from '../launcher/local-servers.js';
import { createServiceLogger } from '../runtime/logger.js';
import { putJob, setJobStatus } from './crm-client.js';
import { flowEvent, FLOWS, type Flow } from './design-doc-events.js';
import type { Job } from './job-book.js';

const logger = createServiceLogger('crm-simulator', process.env['LOG_LEVEL'] ?? 'warn');

try {
  const simulatorEnv = z.object({
    LOG_LEVEL: logLevel,
    ...busEnv,
    RABBITMQ_URL: busEnv.RABBITMQ_URL.unwrap().default(LOCAL_SERVERS.RABBITMQ_URL),
    KAFKA_BROKERS: busEnv.KAFKA_BROKERS.unwrap().default(LOCAL_SERVERS.KAFKA_BROKERS),
    BUS_PREFIX: busEnv.BUS_PREFIX.unwrap().default(LAUNCHER_BUS_PREFIX),
    CRM_URL: z.string().url().default('http://127.0.0.1:4105'),
  });
  const config = loadConfig('crm-simulator', simulatorEnv.superRefine(requireTransportAddress));
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { count: { type: 'string', default: '1' }, account: { type: 'string', default: 'acc_12345' }, run: { type: 'string' }, tag: { type: 'string' } },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error('--count must be a whole number from 1 to 100000');
  const unknown = positionals.filter((p) => !(FLOWS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`unknown flow(s) ${unknown.join(', ')}; known: ${FLOWS.join(', ')}`);
  const flows = (positionals.length > 0 ? positionals : [...FLOWS]) as Flow[];

  // The trigger service's queue is declared up front, so events published before it starts wait for it.
  const { bus, close } = openBus(config, { stream: 'events', logger, declareGroups: ['trigger-service'] });
  const started = Date.now();
  for (const flow of flows) {
    const events = Array.from({ length: count }, (_, i) => flowEvent(flow, values.account, i, count, values.run, values.tag));
    // Publish in parallel chunks: each publish waits for the broker's confirm (the CRM's too).
    const publish = flow === 'job-done' ? (e: (typeof events)[number]) => changeInCrm(config.CRM_URL, e.accountId, e.payload['job'] as Job) : (e: (typeof events)[number]) => bus.publish(e);
    for (let i = 0; i < events.length; i += 100) {
      await Promise.all(events.slice(i, i + 100).map(publish));
    }
    const first = events[0];
    process.stdout.write(`published ${count} × ${first?.name} (${flow}${flow === 'job-done' ? ', through the CRM' : ''})${count === 1 ? ` job=${JSON.stringify((first?.payload['job'] as { number?: string } | undefined)?.number)}` : ''}\n`);
  }
  await close();
  process.stdout.write(`done in ${Date.now() - started} ms\n`);
} catch (error) {
  process.stderr.write(`crm-simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

/** A job marked Done in the CRM: recorded as it was (in progress), then its status changed there. */
async function changeInCrm(crmUrl: string, accountId: string, job: Job): Promise<void> {
  await putJob(crmUrl, accountId, { ...job, status: 'In Progress' });
  await setJobStatus(crmUrl, accountId, job.id, 'Done');
}
