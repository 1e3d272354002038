import type { DeadLetter, DeadLetterFilter, DeadLetterQueue } from '@crm-automation/core';
import { DEFAULT_DEAD_LETTER_LIST_LIMIT, readDeadLetter } from '@crm-automation/core/spi';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import type { BatchingProducer } from './batching-producer.js';
import { decodeHeaders, HEADER } from './message-headers.js';
import type { ResolvedKafkaOptions } from './options.js';
import { readTopicRanges, type PartitionRange } from './topic-range-reader.js';

/** A dead-letter filter that can also name the consumer group that gave up on the events. */
export interface KafkaDeadLetterFilter extends DeadLetterFilter {
  group?: string | undefined;
}

/** A dead letter of the Kafka bus: which group gave up on it, and where it sits in the topic. */
export interface KafkaDeadLetter extends DeadLetter {
  group: string;
  partition: number;
  offset: string;
}

export interface KafkaDeadLetterQueue extends DeadLetterQueue {
  list(filter?: KafkaDeadLetterFilter): Promise<KafkaDeadLetter[]>;
  replay(filter?: KafkaDeadLetterFilter & { dryRun?: boolean | undefined }): Promise<number>;
}

function toDeadLetter(partition: number, message: KafkaMessage): KafkaDeadLetter {
  const headers = decodeHeaders(message.headers);
  const letter = readDeadLetter(message.value?.toString('utf8') ?? '', headers, {
    id: headers[HEADER.messageId] ?? `${partition}:${message.offset}`,
    deadAt: new Date(Number(message.timestamp)),
  });
  return { ...letter, group: headers[HEADER.group] ?? '', partition, offset: message.offset };
}

/**
 * Dead letters live in one topic for every group. Kafka cannot delete single records, so "moved
 * back" is tracked with the committed offsets of a replay consumer group: `list()` shows what lies
 * between those offsets and the end of the topic, and `replay()` republishes the matching letters
 * (to the retry topic, for the group that gave up on them only), appends the others again at the
 * end so they stay listed, and then commits the replay group at the end it read to.
 * Two replays at once may republish a letter twice; intake dedupes it.
 */
export function createKafkaDeadLetters(
  kafka: Kafka,
  producer: BatchingProducer,
  options: ResolvedKafkaOptions,
  topicsReady: () => Promise<void>,
): KafkaDeadLetterQueue {
  const topic = options.deadLetterTopic;

  /** From the replay group's committed offsets (or the start) to the current end of each partition. */
  const pendingRanges = async (): Promise<PartitionRange[]> => {
    await topicsReady();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: options.replayGroupId, topics: [topic] })]);
      const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      return ends.map((end) => {
        const low = BigInt(end.low);
        const mark = done.get(end.partition) ?? -1n;
        return { partition: end.partition, from: mark > low ? mark : low, to: BigInt(end.high) };
      });
    } finally {
      await admin.disconnect();
    }
  };

  const matches = (letter: KafkaDeadLetter, filter: KafkaDeadLetterFilter) =>
    (filter.accountId === undefined || letter.accountId === filter.accountId) && (filter.group === undefined || letter.group === filter.group);

  const read = async (ranges: PartitionRange[], onLetter: (letter: KafkaDeadLetter, message: KafkaMessage) => Promise<void> | void) => {
    const byPartition = new Map<number, Array<{ letter: KafkaDeadLetter; message: KafkaMessage }>>();
    await readTopicRanges(
      kafka,
      topic,
      ranges,
      (partition, message) => {
        const list = byPartition.get(partition) ?? [];
        list.push({ letter: toDeadLetter(partition, message), message });
        byPartition.set(partition, list);
      },
      options.publishTimeoutMs * 2,
    );
    // Partitions are read concurrently; hand letters over in a stable order (partition, offset).
    for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
      for (const { letter, message } of byPartition.get(partition) ?? []) await onLetter(letter, message);
    }
  };

  return {
    async list(filter = {}) {
      const limit = filter.limit ?? DEFAULT_DEAD_LETTER_LIST_LIMIT;
      const letters: KafkaDeadLetter[] = [];
      await read(await pendingRanges(), (letter) => {
        if (letters.length < limit && matches(letter, filter)) letters.push(letter);
      });
      return letters;
    },

    async replay(filter = {}) {
      const limit = filter.limit ?? Number.POSITIVE_INFINITY;
      const ranges = await pendingRanges();
      const chosen: Array<{ letter: KafkaDeadLetter; message: KafkaMessage }> = [];
      const kept: KafkaMessage[] = [];
      await read(ranges, (letter, message) => {
        if (chosen.length < limit && matches(letter, filter)) chosen.push({ letter, message });
        else kept.push(message);
      });
      if (filter.dryRun || (chosen.length === 0 && kept.length === 0)) return chosen.length;

      const deadline = Date.now() + options.publishTimeoutMs;
      const sends: Array<Promise<void>> = [];
      for (const { letter, message } of chosen) {
        const headers = decodeHeaders(message.headers);
        for (const key of [HEADER.reason, HEADER.attempts, HEADER.deadAt, HEADER.due]) delete headers[key];
        const copy: Message = {
          key: message.key,
          value: message.value,
          headers: { ...headers, [HEADER.attempt]: '1', [HEADER.group]: letter.group, [HEADER.due]: '0' },
        };
        sends.push(producer.send(options.retryTopic, copy, deadline));
      }
      for (const message of kept) {
        sends.push(producer.send(topic, { key: message.key, value: message.value, headers: message.headers ?? {} }, deadline));
      }
      await Promise.all(sends);
      // Only now that every copy is acknowledged does the replay mark move past the originals.
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.setOffsets({
          groupId: options.replayGroupId,
          topic,
          partitions: ranges.map((r) => ({ partition: r.partition, offset: r.to.toString() })),
        });
      } finally {
        await admin.disconnect();
      }
      if (chosen.length > 0) options.logger.info({ moved: chosen.length, accountId: filter.accountId }, 'dead letters replayed');
      return chosen.length;
    },
  };
}
