import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { BulkWriteResult, MongoBulkWriteError, MongoNetworkError, MongoOperationTimeoutError, MongoServerError } from 'mongodb';
import { describeError } from '@crm-automation/core';
import { isTransientDriverError, markTransient } from '../src/write-errors.js';

// The driver's constructors are internal, but these are the shapes it throws: insertMany wraps a lost
// connection in a MongoBulkWriteError whose `errorResponse` is the network error.
const bulkResult = {} as BulkWriteResult;
const lostConnection = () => new MongoNetworkError('connection 8 to 127.0.0.1:27017 closed');
// Thrown when no connection could be checked out in time; the driver does not export its class.
const { WaitQueueTimeoutError } = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as { WaitQueueTimeoutError: new (message: string, address: string) => Error };

describe('transient driver errors', () => {
  it('sees a lost connection through the bulk write error that wraps it, and marks it retryable for core', () => {
    const wrapped = new MongoBulkWriteError(lostConnection(), bulkResult);
    expect(isTransientDriverError(lostConnection())).toBe(true);
    expect(isTransientDriverError(wrapped)).toBe(true);
    expect(markTransient(wrapped)).toBe(wrapped);
    expect(describeError(wrapped)).toMatchObject({ message: 'connection 8 to 127.0.0.1:27017 closed', retryable: true });
  });

  it('takes a connection checkout or an operation that ran out of time as transient, wrapped or not', () => {
    const checkout = new WaitQueueTimeoutError('Timed out while checking out a connection from connection pool', '127.0.0.1:27017');
    for (const error of [checkout, new MongoOperationTimeoutError('Timed out during server selection')]) {
      expect(isTransientDriverError(error)).toBe(true);
      expect(isTransientDriverError(new MongoBulkWriteError(error, bulkResult))).toBe(true);
    }
  });

  it('takes a server refusal as it is: not retryable', () => {
    const duplicate = new MongoBulkWriteError({ message: 'E11000 duplicate key error', code: 11000, writeErrors: [] }, bulkResult);
    const refused = new MongoServerError({ message: 'not authorized', code: 13 });
    for (const error of [duplicate, refused, new Error('a bug')]) {
      expect(isTransientDriverError(error)).toBe(false);
      expect(describeError(markTransient(error)).retryable).toBe(false);
    }
  });

  it('takes a write the server labelled retryable (a primary stepping down) as transient', () => {
    const steppedDown = new MongoServerError({ message: 'not primary', code: 10107, errorLabels: ['RetryableWriteError'] });
    expect(isTransientDriverError(steppedDown)).toBe(true);
  });
});
