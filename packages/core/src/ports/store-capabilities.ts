/** What a store can do beyond the required minimum, declared rather than silently missing. */
export interface StoreCapabilities {
  /** Name for logs and contract test titles. */
  name: string;
  /** The store enforces retention by itself (a TTL index); `purgeTriggers` is still available. */
  ttlRetention?: boolean | undefined;
  /**
   * `insertTriggers` honours `NewTrigger.concurrency` (`supersede`, `skipIfPending`): at most one
   * pending trigger per (account, rule, entityKey), decided atomically even under concurrent inserts
   * from several processes. `false` declares that it does not (the engine refuses such rules on it);
   * left out, the contract suite holds the store to it.
   */
  keyedConcurrency?: boolean | undefined;
  /**
   * The trigger store has `cancelTriggers` (rules with `cancelOn`). `false` declares that it has not;
   * left out, the contract suite holds the store to it.
   */
  cancelByEvent?: boolean | undefined;
}
