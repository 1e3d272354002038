/**
 * Ids are `bigint` identity values written as decimal text: `1`, `2`, ... (increasing, so id order is
 * creation order). Anything else, including a decimal beyond the bigint range, is an id this store
 * could never have issued: it is answered as not found without a query, so no cast can fail.
 */
const ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const MAX_ID = 9_223_372_036_854_775_807n;

export function isStoreId(id: unknown): id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) return false;
  return id.length < 19 || BigInt(id) <= MAX_ID;
}

/** Malformed ids for the store contract: the right general form (digits), never issued. */
export const MALFORMED_IDS: readonly string[] = ['0', '00', '007', '+1', '1.0', '1e3', ' 1', '1 ', '-0', '9223372036854775808', '99999999999999999999', '18446744073709551616', '１２', '0x1F'];
