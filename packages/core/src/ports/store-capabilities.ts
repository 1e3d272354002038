/** What a store can do beyond the required minimum, declared rather than silently missing. */
export interface StoreCapabilities {
  /** Name for logs and contract test titles. */
  name: string;
  /** The store enforces retention by itself (a TTL index); `purgeTriggers` is still available. */
  ttlRetention?: boolean | undefined;
}
