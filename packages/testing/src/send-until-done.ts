/** How {@link sendUntilDone} retries: at most `attempts` tries, `minDelayMs` plus up to `jitterMs` apart. */
export interface SendUntilDoneOptions {
  attempts: number;
  minDelayMs: number;
  jitterMs: number;
}

/**
 * Sends as the engine would, for idempotency-store tests: retries a transient (`retryable: true`)
 * failure, a key in flight on another worker included, until the send settles; rethrows any other
 * failure and throws when it never settles.
 */
export async function sendUntilDone(send: () => Promise<unknown>, { attempts, minDelayMs, jitterMs }: SendUntilDoneOptions): Promise<unknown> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await send();
    } catch (error) {
      if ((error as { retryable?: unknown }).retryable !== true) throw error;
      await new Promise((resolve) => setTimeout(resolve, minDelayMs + Math.random() * jitterMs));
    }
  }
  throw new Error('never completed');
}
