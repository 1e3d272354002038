import { z } from 'zod';

/** Which database a service keeps its store in; each service has its own variables. */
export const STORE_KINDS = ['mongo', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/**
 * The default database (MongoDB) and schema (PostgreSQL) name: the adapters' default and the CLI's,
 * so `crm-automation` finds a deployment's data with only the server's address.
 */
export const DEFAULT_DATABASE_NAME = 'crm_automation';

/** The store variables of a service that keeps rules or triggers. */
export const storeEnv = {
  /** `mongo` (any MongoDB; mongo-java-server in the tests) or `postgres` (PostgreSQL 13+). */
  STORE: z.enum(STORE_KINDS).default('mongo'),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URI').optional(),
  POSTGRES_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** Schema of the service's tables in POSTGRES_URL's database. */
  POSTGRES_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,47}$/, 'lowercase letters, digits and _, at most 48 characters')
    .default(DEFAULT_DATABASE_NAME),
};

export interface StoreConfig {
  STORE: StoreKind;
  MONGODB_URI?: string | undefined;
  POSTGRES_URL?: string | undefined;
  POSTGRES_SCHEMA: string;
}

/** Refinement shared by the services' schemas: the chosen store needs its address. */
export function requireStoreAddress(env: StoreConfig, ctx: z.RefinementCtx): void {
  if (env.STORE === 'mongo' && !env.MONGODB_URI) ctx.addIssue({ code: 'custom', path: ['MONGODB_URI'], message: 'required when STORE=mongo (e.g. mongodb://127.0.0.1:27017)' });
  if (env.STORE === 'postgres' && !env.POSTGRES_URL) ctx.addIssue({ code: 'custom', path: ['POSTGRES_URL'], message: 'required when STORE=postgres (e.g. postgres://postgres@127.0.0.1:5433/crm_automation)' });
}
