/**
 * The servers' addresses, from the environment `npm run test:services` sets. Missing ones fail the
 * suite loudly: a services test never silently skips.
 */
export function requireServerEnv<K extends string>(...names: K[]): Record<K, string> {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not set: run the three-service tests with \`npm run test:services\` (it starts the servers), or start them with scripts/services.sh up and export the env lines`);
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n] as string])) as Record<K, string>;
}
