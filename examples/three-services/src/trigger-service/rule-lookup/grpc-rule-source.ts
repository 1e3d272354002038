import * as grpc from '@grpc/grpc-js';
import type { Rule, RuleSource } from '@crm-automation/core';
import { loadRulesService, ruleFromProto, type FindRulesForEventRequest, type GetRuleRequest, type ProtoRule } from '../../wire/grpc-contract.js';
import { callWithRetries } from './call-with-retries.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { RuleLookupUnavailableError } from './rule-lookup-error.js';

export interface GrpcRuleSourceOptions {
  /** `host:port` of the rules service's gRPC server. */
  address: string;
  token: string;
  /** Deadline of one call. */
  timeoutMs: number;
  retries: number;
  breaker: CircuitBreaker;
}

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: Res) => void) => grpc.ClientUnaryCall;

interface RulesClient extends grpc.Client {
  FindRulesForEvent: Unary<FindRulesForEventRequest, { rules?: ProtoRule[] }>;
  GetRule: Unary<GetRuleRequest, ProtoRule>;
}

const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED]);

/**
 * Rules over gRPC (the design doc's Option 2, `proto/rules.proto`): one long-lived HTTP/2 channel,
 * binary messages, a deadline on every call, quick retries of UNAVAILABLE / DEADLINE_EXCEEDED, and
 * the same circuit breaker as the REST client.
 */
export function grpcRuleSource(options: GrpcRuleSourceOptions): RuleSource & { close(): void } {
  const Client = loadRulesService();
  const client = new Client(options.address, grpc.credentials.createInsecure(), {
    // Reconnect quickly once the rules service is back.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
  }) as unknown as RulesClient;

  const call = <Req, Res>(method: 'FindRulesForEvent' | 'GetRule', request: Req, notFoundIsNull: boolean): Promise<Res | null> =>
    options.breaker
      .run(() =>
        callWithRetries(
          () =>
            new Promise<Res | null>((resolve, reject) => {
              const metadata = new grpc.Metadata();
              metadata.set('authorization', `Bearer ${options.token}`);
              const fn = client[method] as unknown as Unary<Req, Res>;
              fn.call(client, request, metadata, { deadline: Date.now() + options.timeoutMs }, (error, response) => {
                if (error) {
                  if (notFoundIsNull && error.code === grpc.status.NOT_FOUND) resolve(null);
                  else reject(error);
                } else resolve(response ?? null);
              });
            }),
          { retries: options.retries, baseDelayMs: 50, retryable: (error) => TRANSIENT.has((error as grpc.ServiceError).code) },
        ),
      )
      .catch((error: unknown) => {
        if (error instanceof RuleLookupUnavailableError) throw error;
        const detail = (error as Partial<grpc.ServiceError>).details ?? (error instanceof Error ? error.message : String(error));
        throw new RuleLookupUnavailableError(`rules service (gRPC ${method}) ${detail}`, { cause: error });
      });

  return {
    async findRulesForEvent(accountId, eventName) {
      const response = await call<FindRulesForEventRequest, { rules?: ProtoRule[] }>('FindRulesForEvent', { accountId, eventName }, false);
      return (response?.rules ?? []).map(ruleFromProto);
    },
    async getRule(accountId, ruleId): Promise<Rule | null> {
      const response = await call<GetRuleRequest, ProtoRule>('GetRule', { accountId, ruleId }, true);
      return response ? ruleFromProto(response) : null;
    },
    close: () => client.close(),
  };
}
