/**
 * Every driver the runner can select, by name. To benchmark another system (our engine in memory, on
 * PostgreSQL, on the MongoDB-wire server), implement `PeerDriver` in a new file and add it here: the
 * runner needs no change.
 */
import type { DriverEntry } from '../driver.js';

export const drivers: Readonly<Record<string, DriverEntry>> = {
  'engine-memory': {
    description: 'this engine, in memory (no server)',
    create: async (options) => (await import('./engine.js')).createEngineDriver('memory', options),
  },
  'engine-postgres': {
    description: 'this engine on PostgreSQL (@crm-automation/adapter-postgres, POSTGRES_URL); one schema per run',
    create: async (options) => (await import('./engine.js')).createEngineDriver('postgres', options),
  },
  'engine-mongo': {
    description: 'this engine on the MongoDB-wire server (@crm-automation/adapter-mongo, MONGODB_URI); one database per run',
    create: async (options) => (await import('./engine.js')).createEngineDriver('mongo', options),
  },
  bullmq: {
    description: 'BullMQ on Redis (REDIS_URL, default redis://127.0.0.1:6379)',
    create: async (options) => (await import('./bullmq.js')).createBullmqRedisDriver(options),
  },
  'bullmq-pg': {
    description: "BullMQ's PostgreSQL backend (POSTGRES_URL); one schema per run",
    create: async (options) => (await import('./bullmq.js')).createBullmqPostgresDriver(options),
  },
  'pg-boss': {
    description: 'pg-boss on PostgreSQL (POSTGRES_URL); one schema per run',
    create: async (options) => (await import('./pg-boss.js')).createPgBossDriver(options),
  },
  'agenda-pg': {
    description: 'Agenda with @agendajs/postgres-backend (POSTGRES_URL); one schema per run',
    create: async (options) => (await import('./agenda.js')).createAgendaPostgresDriver(options),
  },
  'agenda-mongo': {
    description: 'Agenda with @agendajs/mongo-backend (MONGODB_URI, default the MongoDB-wire test server); one database per run',
    create: async (options) => (await import('./agenda.js')).createAgendaMongoDriver(options),
  },
};
