import { afterAll, beforeAll } from 'vitest';
import { resolveMongoServer } from './mongo-server.js';

/**
 * Registers a services-test file's hooks: find the server before its tests; after them, run what the
 * tests asked to release, last-first (a failure of one does not keep the others open).
 */
export function mongoTestFile() {
  let uri: string | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    uri = (await resolveMongoServer()).uri;
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });
  return {
    /** The server's URI (only inside tests: it is resolved in beforeAll). */
    uri(): string {
      if (uri === undefined) throw new Error('no MongoDB server: the resolver failed in beforeAll');
      return uri;
    },
    onRelease(close: () => Promise<void>): void {
      closers.push(close);
    },
  };
}
