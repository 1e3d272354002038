import type { BusStats } from '@crm-automation/core';
import type { Kafka } from 'kafkajs';
import type { ResolvedKafkaOptions } from './options.js';

/**
 * Consumer-group lag of each known group on the event topic, partition by partition (the end of
 * the partition minus the group's committed offset; a group that committed nothing yet starts from
 * the beginning, so its lag is everything retained), and the dead letters not yet replayed (from
 * the replay group's committed offsets to the end of the dead-letter topic, what `list()` shows).
 * Backlog names are `<group>:<topic>/<partition>`, so several groups never share a name.
 */
export async function readGroupLag(kafka: Kafka, options: ResolvedKafkaOptions, groups: readonly string[]): Promise<BusStats> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [ends, deadEnds, replayed, ...committed] = await Promise.all([
      admin.fetchTopicOffsets(options.topic),
      admin.fetchTopicOffsets(options.deadLetterTopic),
      admin.fetchOffsets({ groupId: options.replayGroupId, topics: [options.deadLetterTopic] }),
      ...groups.map((groupId) => admin.fetchOffsets({ groupId, topics: [options.topic] })),
    ]);
    const lagOf = (ranges: typeof ends, offsets: Awaited<ReturnType<typeof admin.fetchOffsets>> | undefined, partition: number) => {
      const range = ranges.find((r) => r.partition === partition);
      if (!range) return 0n;
      const low = BigInt(range.low);
      const high = BigInt(range.high);
      const mark = BigInt(offsets?.[0]?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
      const from = mark > low ? mark : low;
      return high > from ? high - from : 0n;
    };
    const partitions = ends.map((e) => e.partition).sort((a, b) => a - b);
    const stats: BusStats = { backlog: [], deadLetters: 0 };
    groups.forEach((group, i) => {
      for (const partition of partitions) {
        stats.backlog.push({ name: `${group}:${options.topic}/${partition}`, messages: Number(lagOf(ends, committed[i], partition)) });
      }
    });
    for (const end of deadEnds) stats.deadLetters += Number(lagOf(deadEnds, replayed, end.partition));
    return stats;
  } finally {
    await admin.disconnect();
  }
}
