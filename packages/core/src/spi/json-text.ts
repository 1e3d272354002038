import { MAX_EVENT_BYTES } from '../events/event.js';
import { MAX_JSON_DEPTH } from '../input/json-shape.js';

/**
 * Longest message text a bus consumer parses. An event's payload is at most `MAX_EVENT_BYTES` of JSON;
 * twice that leaves room for the envelope and for escapes, and anything longer cannot be an event, so
 * it is dead-lettered before `JSON.parse` spends time and memory on it.
 */
export const MAX_BUS_MESSAGE_CHARS = 2 * MAX_EVENT_BYTES;

/**
 * True when JSON text nests arrays and objects deeper than `limit`, read in one pass without parsing
 * (strings and their escapes skipped). `JSON.parse` builds such a value without complaint, but every
 * recursive step after it (`JSON.stringify` of a dead letter, a structured clone) throws a RangeError.
 */
export function jsonTextNestsDeeperThan(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}
