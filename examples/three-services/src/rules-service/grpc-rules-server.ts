import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { RuleSource } from '@crm-automation/core';
import type { Logger } from 'pino';
import { loadRulesService, ruleToProto, type FindRulesForEventRequest, type GetRuleRequest, type ProtoRule } from '../wire/grpc-contract.js';

export interface GrpcRulesServerOptions {
  rules: RuleSource;
  tokens: readonly string[];
  host: string;
  port: number;
  logger: Logger;
}

export interface GrpcRulesServer {
  readonly port: number;
  /** Refuses new calls, lets calls in flight finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The rule lookups of the gRPC pattern (the design doc's Option 2) on `proto/rules.proto`. Callers
 * authenticate with `authorization: Bearer <service token>` metadata. Plaintext HTTP/2 here; in
 * production, `ServerCredentials.createSsl` with client certificates (mTLS) instead.
 */
export async function startGrpcRulesServer(options: GrpcRulesServerOptions): Promise<GrpcRulesServer> {
  const service = loadRulesService();
  const digests = options.tokens.map(digest);
  const log = options.logger.child({ component: 'grpc' });

  const authorized = (metadata: grpc.Metadata): boolean => {
    const header = metadata.get('authorization')[0];
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : null;
    if (!token) return false;
    const presented = digest(token);
    let ok = false;
    for (const known of digests) ok = timingSafeEqual(presented, known) || ok;
    return ok;
  };

  /** Wraps a handler with auth, argument checks and error mapping: an internal failure is UNAVAILABLE, so clients retry. */
  const unary = <Req, Res>(name: string, handle: (request: Req) => Promise<Res | { notFound: string }>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      if (!authorized(call.metadata)) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'missing or invalid service token' });
        return;
      }
      handle(call.request).then(
        (result) => {
          if (result && typeof result === 'object' && 'notFound' in result) callback({ code: grpc.status.NOT_FOUND, details: result.notFound });
          else callback(null, result as Res);
        },
        (error: unknown) => {
          if (error instanceof InvalidArgument) {
            callback({ code: grpc.status.INVALID_ARGUMENT, details: error.message });
            return;
          }
          log.error({ method: name, err: error }, 'rule lookup failed');
          callback({ code: grpc.status.UNAVAILABLE, details: 'rule lookup failed; retry' });
        },
      );
    };

  const server = new grpc.Server();
  server.addService(service.service, {
    FindRulesForEvent: unary<FindRulesForEventRequest, { rules: ProtoRule[] }>('FindRulesForEvent', async (request) => {
      requireText('account_id', request.accountId);
      requireText('event_name', request.eventName);
      const rules = await options.rules.findRulesForEvent(request.accountId, request.eventName);
      return { rules: rules.map(ruleToProto) };
    }),
    GetRule: unary<GetRuleRequest, ProtoRule>('GetRule', async (request) => {
      requireText('account_id', request.accountId);
      requireText('rule_id', request.ruleId);
      const rule = await options.rules.getRule(request.accountId, request.ruleId);
      return rule ? ruleToProto(rule) : { notFound: `rule ${request.ruleId} not found` };
    }),
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  log.info({ port }, 'gRPC rules server listening');

  return {
    port,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

class InvalidArgument extends Error {}

function requireText(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new InvalidArgument(`${field} must be a non-empty string of at most 200 characters`);
}
