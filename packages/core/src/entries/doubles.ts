/**
 * Test doubles: a clock you move by hand and a gateway that records what it was sent. Published by
 * `@crm-automation/testing/doubles` (and, deprecated, by the core entry).
 */
export { createRecordingChannel } from '../memory/recording-channel.js';
export type { RecordingChannel, RecordingChannelOptions } from '../memory/recording-channel.js';
export { createManualClock } from '../memory/manual-clock.js';
export type { ManualClock } from '../memory/manual-clock.js';
