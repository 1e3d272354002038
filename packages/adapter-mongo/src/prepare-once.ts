/**
 * Runs `prepare` (index creation) before the first operation that needs it, once; a failure is not
 * remembered, so the next operation tries again (the server may have been down).
 */
export function prepareOnce(prepare: () => Promise<unknown>, enabled: boolean): { ready(): Promise<void>; markReady(): void } {
  let done = !enabled;
  let running: Promise<void> | undefined;
  return {
    ready() {
      if (done) return Promise.resolve();
      running ??= prepare()
        .then(() => {
          done = true;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    markReady() {
      done = true;
    },
  };
}
