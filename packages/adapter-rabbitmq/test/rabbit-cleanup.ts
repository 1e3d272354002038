import { connect } from 'amqplib';

/** Deletes what a test's bus declared, so quorum queues do not pile up on the test broker. */
export async function deleteTopology(
  url: string,
  names: { exchange: string; queuePrefix: string; groups: Iterable<string>; retryDelaysMs: readonly number[] },
): Promise<void> {
  const model = await connect(url);
  try {
    const channel = await model.createChannel();
    for (const group of names.groups) {
      const main = `${names.queuePrefix}.${group}`;
      for (const queue of [main, `${main}.dead-letter`, ...names.retryDelaysMs.map((d) => `${main}.retry.${d}ms`)]) {
        await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(names.exchange);
    await channel.close();
  } finally {
    await model.close();
  }
}
