import { afterAll, beforeAll, describe } from 'vitest';
import type { Redis } from 'ioredis';
import type { ContactCounter, SendThrottle } from '@crm-automation/core';
import { describeContactCounterContract, describeSendThrottleContract } from '@crm-automation/testing';
import { createRedisContactCounter, createRedisSendThrottle } from '../src/index.js';
import { connect, dropPrefix, redisUrl, uniquePrefix } from './redis-server.js';

const url = redisUrl();
let redis: Redis;

/** A port on a connection of its own (another engine process), closed by the contract after the test. */
type Closable<P> = P & { close(): Promise<void> };

function closable<P extends object>(make: (connection: Redis) => P): Closable<P> {
  const connection = connect(url as string);
  return Object.assign(make(connection), { close: async () => void (await connection.quit()) });
}

/** A fresh key prefix per test on the file's connection; every other handle opens a connection of its own. */
function subject<P extends object>(what: string, make: (connection: Redis, keyPrefix: string) => P) {
  return () => {
    const keyPrefix = uniquePrefix(what);
    return {
      store: make(redis, keyPrefix),
      openAnother: (): P => closable((connection) => make(connection, keyPrefix)),
      cleanup: () => dropPrefix(redis, keyPrefix),
    };
  };
}

describe.skipIf(!url)('redis contact counter and send throttle', () => {
  beforeAll(async () => {
    redis = connect(url as string);
    await redis.ping();
  });
  afterAll(async () => {
    await redis?.quit();
  });

  describeContactCounterContract<ContactCounter>('redis', subject('counter', (connection, keyPrefix) => createRedisContactCounter(connection, { keyPrefix })));
  describeSendThrottleContract<SendThrottle>('redis', subject('throttle', (connection, keyPrefix) => createRedisSendThrottle(connection, { keyPrefix })));
});
