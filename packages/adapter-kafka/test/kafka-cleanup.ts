import { Kafka, logLevel } from 'kafkajs';

/** Deletes a test's topics and consumer groups, so they do not pile up on the test broker. */
export async function deleteKafkaNames(brokers: string, names: { topics: string[]; groups: Iterable<string> }): Promise<void> {
  const kafka = new Kafka({ clientId: 'crm-test-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const groups = [...names.groups].flatMap((g) => [g, `${g}.retry`]);
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => []);
    await admin.deleteTopics({ topics: names.topics }).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}
