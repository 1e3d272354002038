/**
 * The CRM, simulated: publishes the design doc's events to the bus, as the CRM app would.
 *
 *   npm run simulate -w @crm-automation/example-three-services -- [job-done] [high-value] [low-value] [--count N] [--account acc_12345] [--tag T]
 *
 * With no flow named, publishes one of each. Reads TRANSPORT, RABBITMQ_URL / KAFKA_BROKERS, BUS_PREFIX;
 * their defaults are the launcher's (`npm run example:three-services`): the local servers of
 * `scripts/services.sh up` and the bus prefix `crm-example`, so that it can be run next to it as is.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { busEnv, openBus, requireTransportAddress } from '../runtime/bus-transport.js';
import { loadConfig, logLevel } from '../runtime/env-config.js';
import { LAUNCHER_BUS_PREFIX, LOCAL_SERVERS } from '../launcher/local-servers.js';
import { createServiceLogger } from '../runtime/logger.js';
import { flowEvent, FLOWS, type Flow } from './design-doc-events.js';

const logger = createServiceLogger('crm-simulator', process.env['LOG_LEVEL'] ?? 'warn');

try {
  const simulatorEnv = z.object({
    LOG_LEVEL: logLevel,
    ...busEnv,
    RABBITMQ_URL: busEnv.RABBITMQ_URL.unwrap().default(LOCAL_SERVERS.RABBITMQ_URL),
    KAFKA_BROKERS: busEnv.KAFKA_BROKERS.unwrap().default(LOCAL_SERVERS.KAFKA_BROKERS),
    BUS_PREFIX: busEnv.BUS_PREFIX.unwrap().default(LAUNCHER_BUS_PREFIX),
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
    // Publish in parallel chunks: each publish waits for the broker's confirm.
    for (let i = 0; i < events.length; i += 100) {
      await Promise.all(events.slice(i, i + 100).map((e) => bus.publish(e)));
    }
    const first = events[0];
    process.stdout.write(`published ${count} × ${first?.name} (${flow})${count === 1 ? ` id=${first?.id} job=${JSON.stringify((first?.payload['job'] as { number?: string } | undefined)?.number)}` : ''}\n`);
  }
  await close();
  process.stdout.write(`done in ${Date.now() - started} ms\n`);
} catch (error) {
  process.stderr.write(`crm-simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
