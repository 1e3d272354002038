import type { Notification, Pool, PoolClient } from 'pg';
import type { Logger } from '@crm-automation/core';

export interface DueWatcherOptions {
  pool: Pool;
  channel: string;
  logger: Logger;
  /** Asked after every (re)connection: what may have been notified while no one listened. */
  catchUp: () => Promise<Date | null>;
  /** Longest wait between reconnection attempts. Default 5 s. */
  maxBackoffMs?: number | undefined;
}

export interface DueWatcher {
  /** Adds a listener; resolves once the first `LISTEN` is in place (or has failed and is being retried). */
  add(listener: (dueAt: Date) => void): Promise<() => Promise<void>>;
  /** Stops listening and gives the connection back. */
  stop(): Promise<void>;
}

/**
 * `LISTEN` on one connection held out of the pool for as long as anyone watches, shared by every
 * watcher of the store. When the connection fails (server restart, network), it is destroyed and a
 * new one listens after a back-off; each (re)connection tells the watchers the earliest due time,
 * which covers notifications sent while nobody listened. The poll of the claim loop stays the
 * backstop.
 */
export function createDueWatcher(options: DueWatcherOptions): DueWatcher {
  const { pool, channel, logger } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const listeners = new Set<(dueAt: Date) => void>();
  let client: PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let releasing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryAfterConnect = false;
  let failures = 0;
  let active = false;

  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

  const emit = (dueAt: Date) => {
    for (const listener of listeners) {
      try {
        listener(dueAt);
      } catch (error) {
        logger.warn({ error: message(error) }, 'postgres: a due-time listener threw');
      }
    }
  };

  const onNotification = (notification: Notification) => {
    if (notification.channel !== channel) return;
    const ms = Number(notification.payload);
    if (Number.isFinite(ms)) emit(new Date(ms));
  };
  const onError = (error: Error) => drop(error);
  const onEnd = () => drop(new Error('LISTEN connection ended'));

  /** Detaches the held connection: our handlers off, the client out of `client`. */
  const detach = (): PoolClient | undefined => {
    const held = client;
    client = undefined;
    held?.removeListener('notification', onNotification);
    held?.removeListener('error', onError);
    held?.removeListener('end', onEnd);
    return held;
  };

  /** The held connection failed: destroy it (never back into the pool) and listen again later. */
  const drop = (error: unknown) => {
    const broken = detach();
    if (!broken) return;
    // A dying connection may report more errors; with no listener left they would end the process.
    broken.on('error', () => undefined);
    broken.release(error instanceof Error ? error : new Error(message(error)));
    if (!active) return;
    failures += 1;
    logger.warn({ error: message(error), failures }, 'postgres: LISTEN connection lost; reconnecting');
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    if (!active || retryTimer) return;
    if (connecting) {
      retryAfterConnect = true;
      return;
    }
    const delay = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10));
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
    retryTimer.unref?.();
  };

  const connect = (): Promise<void> => {
    connecting ??= (async () => {
      try {
        const fresh = await pool.connect();
        client = fresh;
        fresh.on('error', onError);
        fresh.on('end', onEnd);
        fresh.on('notification', onNotification);
        await fresh.query(`LISTEN "${channel}"`);
        if (!active || client !== fresh) return;
        failures = 0;
        const due = await options.catchUp().catch(() => null);
        if (due && active) emit(due);
      } catch (error) {
        if (client) drop(error);
        else if (active) {
          failures += 1;
          logger.warn({ error: message(error), failures }, 'postgres: cannot LISTEN for due times; retrying');
          retryAfterConnect = true;
        }
      }
    })().finally(() => {
      connecting = undefined;
      if (!active) void release();
      else if (retryAfterConnect) {
        retryAfterConnect = false;
        scheduleReconnect();
      }
    });
    return connecting;
  };

  /** Gives the connection back after UNLISTEN (or destroys it if that fails); shared by concurrent callers. */
  const release = (): Promise<void> => {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    retryAfterConnect = false;
    const held = detach();
    if (!held) return releasing ?? Promise.resolve();
    releasing = (async () => {
      try {
        await held.query(`UNLISTEN "${channel}"`);
        held.release();
      } catch (error) {
        held.release(error instanceof Error ? error : new Error(message(error)));
      }
    })().finally(() => {
      releasing = undefined;
    });
    return releasing;
  };

  return {
    async add(listener) {
      listeners.add(listener);
      if (!active) {
        active = true;
        await connect();
      } else if (connecting) await connecting;
      let removed = false;
      return async () => {
        if (removed) return;
        removed = true;
        listeners.delete(listener);
        if (listeners.size === 0) {
          active = false;
          await connecting;
          await release();
        }
      };
    },

    async stop() {
      listeners.clear();
      active = false;
      await connecting;
      await release();
    },
  };
}
