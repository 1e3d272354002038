/**
 * One engine process of the delivery soak (started by bench/src/delivery-soak.bench.ts, killed by it
 * with SIGKILL at random). It opens the run's durable store, starts an engine on it (which reconciles
 * the intents an earlier process left), tells the parent it is running, and works until it is killed
 * or asked to stop (SIGTERM: a graceful stop, for the end of the run).
 *
 * Environment: SOAK_STORE (mongo | postgres), SOAK_STORE_NAME (database or schema), SOAK_PROVIDER_URL,
 * SOAK_TUNING (JSON of SoakTuning), SOAK_INSTANCE.
 */
import { createAutomationEngine } from '@crm-automation/core';
import { openSoakStore, SOAK_STORE_KINDS, type SoakStoreKind } from './delivery-soak-store.js';
import { soakChannels, soakEngineOptions, type SoakTuning } from './delivery-soak-setup.js';

/** What the engine process tells the orchestrator over the IPC channel. */
export interface EngineMessage {
  type: 'ready';
  instance: string;
  /** Intents this start reconciled to `unknown`. */
  reconciled: number;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (this script is started by delivery-soak.bench.ts)`);
  return value;
}

const tell = (message: EngineMessage) => process.send?.(message);

async function main(): Promise<void> {
  const kind = env('SOAK_STORE');
  if (!SOAK_STORE_KINDS.includes(kind as SoakStoreKind)) throw new Error(`SOAK_STORE must be one of ${SOAK_STORE_KINDS.join(', ')}`);
  const tuning = JSON.parse(env('SOAK_TUNING')) as SoakTuning;
  const instance = env('SOAK_INSTANCE');
  const opened = await openSoakStore(kind as SoakStoreKind, env('SOAK_STORE_NAME'));
  const engine = createAutomationEngine({ store: opened.store, channels: soakChannels(env('SOAK_PROVIDER_URL'), tuning), instanceId: instance, ...soakEngineOptions(tuning) });
  // start() reconciles stale intents first; counting them through the observer says how many it did.
  let reconciled = 0;
  engine.on('delivery:changed', ({ source }) => {
    if (source === 'reconcile') reconciled += 1;
  });
  await engine.start();
  tell({ type: 'ready', instance, reconciled });

  process.once('SIGTERM', () => {
    engine
      .stop()
      .then(() => opened.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`${instance}: stop failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`engine process failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
