import { z } from 'zod';
import { busEnv, requireTransportAddress } from '../runtime/bus-transport.js';
import { logLevel, port } from '../runtime/env-config.js';

/** The CRM simulator's server mode (`crm-server.ts`). */
export const crmSimulatorEnv = z
  .object({
    LOG_LEVEL: logLevel,
    HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port(4105),
    ...busEnv,
  })
  .superRefine(requireTransportAddress);
