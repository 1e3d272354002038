import type { FastifyInstance } from 'fastify';

/** One dependency readiness depends on. */
export interface ReadinessCheck {
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  check: () => Promise<unknown>;
  /**
   * When false the dependency is reported but does not fail readiness: the service is built to ride
   * out its outage (the trigger service without the rules service).
   */
  critical?: boolean | undefined;
}

/** Reported, not required: a dependency behind a circuit breaker counts as down while its circuit is open. */
export function breakerCheck(breaker: { readonly state: string }): ReadinessCheck {
  return {
    critical: false,
    check: async () => {
      if (breaker.state === 'open') throw new Error('circuit open');
    },
  };
}

export interface HealthRoutesOptions {
  checks: Readonly<Record<string, ReadinessCheck>>;
  /** Serve `/healthz` too; off where another plugin already does (the Rules API has one). */
  liveness?: boolean | undefined;
  /** Per-check deadline. Default 1 s, so a hung dependency cannot hang the probe. */
  timeoutMs?: number | undefined;
  /** False while starting and once shutdown begins, so traffic drains before connections close. */
  accepting?: (() => boolean) | undefined;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * `/healthz` (liveness: the process answers) and `/readyz` (readiness: every critical dependency
 * answered within the deadline). `/readyz` lists each dependency, so an operator sees which one is
 * down: `{ "status": "ready", "checks": { "mongo": "ok", "bus": "ok", "rules-service": "down: ..." } }`.
 */
export function registerHealthRoutes(app: FastifyInstance, options: HealthRoutesOptions): void {
  const timeoutMs = options.timeoutMs ?? 1_000;
  if (options.liveness !== false) app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results: Record<string, string> = {};
    let ready = options.accepting?.() ?? true;
    await Promise.all(
      Object.entries(options.checks).map(async ([name, { check, critical }]) => {
        try {
          await withTimeout(Promise.resolve().then(check), timeoutMs);
          results[name] = 'ok';
        } catch (error) {
          results[name] = `down: ${error instanceof Error ? error.message : String(error)}`;
          if (critical !== false) ready = false;
        }
      }),
    );
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks: results });
  });
}

/** Resolves when another service answers `GET /healthz` with 200 (for a non-critical readiness check). */
export async function probeHealth(baseUrl: string, timeoutMs = 1_000): Promise<void> {
  const response = await fetch(`${baseUrl.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`answered ${response.status}`);
}
