/** Milliseconds left until `deadline` (epoch ms); negative once it passed. */
export function remainingMs(deadline: number): number {
  return deadline - Date.now();
}

/**
 * Settles as `work` does, or rejects at `deadline` (epoch ms) if `work` has not settled by then:
 * with `timed out waiting for <what>`, or with the error `what` makes. `work` itself is not
 * cancelled; whoever started it decides what a late result means.
 */
export function withDeadline<T>(work: Promise<T>, deadline: number, what: string | (() => Error)): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(typeof what === 'string' ? new Error(`timed out waiting for ${what}`) : what()),
      Math.max(0, remainingMs(deadline)),
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
