import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * Runs the steps in order on SIGTERM or SIGINT: the caller lists them as "stop taking work, finish
 * what is in flight, close connections". A second signal, or steps running past `deadlineMs`, exit
 * at once with code 1: an orchestrator's SIGKILL would come next anyway.
 */
export function onShutdown(logger: Logger, steps: readonly ShutdownStep[], deadlineMs = 20_000): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    let failed = false;
    for (const step of steps) {
      try {
        await step.run();
        logger.debug({ step: step.name }, 'shutdown step done');
      } catch (error) {
        failed = true;
        logger.error({ step: step.name, err: error }, 'shutdown step failed');
      }
    }
    logger.info({}, 'stopped');
    process.exit(failed ? 1 : 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const parent = Number(process.env['STOP_WITH_PARENT']);
  if (Number.isInteger(parent) && parent > 0) {
    // Started by the launcher or a test in its own process group: if that parent dies without
    // stopping us (a crash, a SIGKILL), shut down rather than linger as an orphan. The parent's pid
    // comes from the parent itself, so a parent that died while we were starting is noticed too.
    setInterval(() => {
      if (!stopping && process.ppid !== parent) void stop('SIGTERM');
    }, 1_000).unref();
  }
}

/** Logs a failed start (bad config, unreachable server) and exits 1, so a supervisor sees it. */
export function exitOnStartupFailure(logger: Logger, error: unknown): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'CRM_ERR_CONFIG' && error instanceof Error) {
    // A configuration error is for a person: print it readably too, not only as a JSON line.
    process.stderr.write(`${error.message}\n`);
  }
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
