import { checkOptions, optionKeys } from '../config/check-options.js';
import type { ActionCommand, ChannelGateway } from '../ports/gateway.js';

export interface RecordingChannelOptions {
  /** Decides what each send returns or throws; by default it returns `{ id: 'rec_<n>' }`. */
  respond?: ((command: ActionCommand, call: number) => unknown) | undefined;
  name?: string | undefined;
}

export interface RecordingChannel extends ChannelGateway {
  /** Every command accepted, in order. */
  readonly sent: ActionCommand[];
  /** Every call, accepted or not. */
  readonly calls: ActionCommand[];
  /** Makes the next `times` sends throw `error`. */
  failNext(error: Error, times?: number): void;
  clear(): void;
}

/** A gateway for tests: keeps every command it accepts in `.sent`. */
export function createRecordingChannel(options: RecordingChannelOptions = {}): RecordingChannel {
  checkOptions('createRecordingChannel', options, optionKeys<RecordingChannelOptions>()('respond', 'name'));
  const sent: ActionCommand[] = [];
  const calls: ActionCommand[] = [];
  const failures: Error[] = [];
  return {
    name: options.name ?? 'recording',
    sent,
    calls,
    async send(command) {
      calls.push(command);
      const failure = failures.shift();
      if (failure) throw failure;
      const result = options.respond ? await options.respond(command, calls.length) : { id: `rec_${calls.length}` };
      sent.push(command);
      return result;
    },
    failNext(error, times = 1) {
      for (let i = 0; i < times; i++) failures.push(error);
    },
    clear() {
      sent.length = 0;
      calls.length = 0;
      failures.length = 0;
    },
  };
}
