import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { KafkaBusError } from './bus-error.js';

export interface PartitionRange {
  partition: number;
  /** First offset to read. */
  from: bigint;
  /** Offset after the last one to read (the high watermark when the read began). */
  to: bigint;
}

/**
 * Reads the given offset ranges of a topic once, in partition order, with a throwaway consumer group
 * (deleted afterwards) that commits nothing: kafkajs has no group-less consumer, and a read must
 * not disturb the offsets of the groups that matter.
 */
export async function readTopicRanges(
  kafka: Kafka,
  topic: string,
  ranges: readonly PartitionRange[],
  onMessage: (partition: number, message: KafkaMessage) => Promise<void> | void,
  timeoutMs: number,
): Promise<void> {
  const pending = new Map(ranges.filter((r) => r.from < r.to).map((r) => [r.partition, r]));
  if (pending.size === 0) return;
  const groupId = `${topic}.browse.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  let finish: () => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail(new KafkaBusError('CRM_ERR_BUS_SUBSCRIBE', `reading ${topic} did not finish within ${timeoutMs} ms`)), timeoutMs);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isRunning }) => {
        const range = pending.get(batch.partition);
        if (!range) return;
        for (const message of batch.messages) {
          if (!isRunning()) return;
          const offset = BigInt(message.offset);
          if (offset < range.from) continue;
          if (offset >= range.to) break;
          try {
            await onMessage(batch.partition, message);
          } catch (error) {
            fail(error);
            return;
          }
          if (offset + 1n >= range.to) break;
        }
        // lastOffset() counts records kafkajs filtered out (control records), so gaps still finish.
        if (!batch.isEmpty() && BigInt(batch.lastOffset()) + 1n >= range.to) {
          pending.delete(batch.partition);
          if (pending.size === 0) finish();
        }
      },
    });
    for (const range of pending.values()) consumer.seek({ topic, partition: range.partition, offset: range.from.toString() });
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => {})
      .finally(() => admin.disconnect().catch(() => {}));
  }
}
