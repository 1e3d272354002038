import { connect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import pg from 'pg';

/** Drops a run's databases. */
export async function dropDatabases(uri: string, names: readonly string[]): Promise<void> {
  const client = new MongoClient(uri);
  try {
    for (const name of names) await client.db(name).dropDatabase().catch(() => {});
  } finally {
    await client.close();
  }
}

/** Drops a run's PostgreSQL schemas (and every table in them). */
export async function dropSchemas(url: string, names: readonly string[]): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    for (const name of names) await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => {});
  } finally {
    await pool.end();
  }
}

const STREAMS: Record<string, string[]> = { events: ['trigger-service'], 'rule-lookups': ['rules-service'], 'rule-updates': ['trigger-service'] };

/** Deletes a run's exchanges and queues, so quorum queues do not pile up on the test broker. */
export async function deleteRabbitNames(url: string, prefix: string, retryDelaysMs: readonly number[], extra: Record<string, string[]> = {}): Promise<void> {
  const model = await connect(url);
  try {
    const channel = await model.createChannel();
    for (const [stream, known] of Object.entries(STREAMS)) {
      const name = `${prefix}.${stream}`;
      const groups = [...known, ...(extra[stream] ?? [])];
      for (const group of groups) {
        const main = `${name}.${group}`;
        const delays = new Set([...retryDelaysMs, 1_000, 5_000, 30_000, 120_000]);
        for (const queue of [main, `${main}.dead-letter`, ...[...delays].map((d) => `${main}.retry.${d}ms`)]) {
          await channel.deleteQueue(queue);
        }
      }
      await channel.deleteExchange(name);
    }
    await channel.close();
  } finally {
    await model.close();
  }
}

/** Deletes a run's topics and consumer groups. */
export async function deleteKafkaNames(brokers: string, prefix: string, extra: Record<string, string[]> = {}): Promise<void> {
  const kafka = new Kafka({ clientId: 'three-services-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = Object.keys(STREAMS).flatMap((s) => [`${prefix}.${s}`, `${prefix}.${s}.retry`, `${prefix}.${s}.dead-letter`]);
    const groups = Object.entries(STREAMS).flatMap(([s, gs]) => [...gs, ...(extra[s] ?? [])].flatMap((g) => [`${prefix}.${s}.${g}`, `${prefix}.${s}.${g}.retry`]));
    await admin.deleteGroups(groups).catch(() => []);
    await admin.deleteTopics({ topics }).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}
