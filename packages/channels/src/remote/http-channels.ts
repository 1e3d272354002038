import {
  AutomationError,
  BUILT_IN_COMMAND_SCHEMAS,
  checkOptions,
  isBuiltInActionType,
  optionKeys,
  positiveIntOption,
  type ChannelGateway,
} from '@crm-automation/core';
import { checkOptionShapes, type OptionShape } from '@crm-automation/core/spi';
import { DEFAULT_TIMEOUT_MS, httpExchange, parseJsonBody } from '../http/http-exchange.js';
import { httpFailure } from '../outcome/gateway-failure.js';
import { parseRetryAfter } from '../outcome/retry-after.js';
import { requireValidCommand } from '../validation/command-params.js';
import { traceHeadersOf } from './trace-headers.js';

/** What the Notification Service's gateway for one action type declares, repeated on this side. */
export interface RemoteChannelCapabilities {
  /**
   * The service's gateway deduplicates by the idempotency key (its webhook gateway by `webhook-id`,
   * an SMTP gateway by Message-ID): an `unknown` send may be sent again. Default false.
   */
  dedupes?: boolean | undefined;
  /**
   * The service's gateway is a failover gateway: its declaration (`createFailoverGateway(...).failover`),
   * so the engine sends an action again after an undelivered receipt within the window.
   */
  failover?: ChannelGateway['failover'];
}

export interface HttpChannelsOptions {
  /** Origin of the Notification Service, e.g. `http://notifications:3000`. */
  baseUrl: string;
  /** Bearer token the Notification Service accepts. */
  token: string;
  /** Deadline for the service's answer (which includes the provider call). Default 10 s. */
  timeoutMs?: number | undefined;
  /** Action types to build gateways for. Default sms, email, webhook. */
  types?: readonly string[] | undefined;
  /** What the service's gateways declare, by action type (see {@link RemoteChannelCapabilities}). */
  capabilities?: Readonly<Record<string, RemoteChannelCapabilities>> | undefined;
}

const HTTP_CHANNELS_OPTION_KEYS = optionKeys<HttpChannelsOptions>()('baseUrl', 'token', 'timeoutMs', 'types', 'capabilities');
const CAPABILITY_KEYS = optionKeys<RemoteChannelCapabilities>()('dedupes', 'failover');

/** The error body of the Notification Service: `{ error: { code, message, ... } }`. */
interface RemoteError {
  code?: unknown;
  message?: unknown;
  provider?: unknown;
  providerCode?: unknown;
  ambiguous?: unknown;
}

/**
 * Another sender holds the command's idempotency key at the service: transient, and a wait rather
 * than an attempt for the engine (it does not spend the trigger's attempts).
 */
class RemoteInFlightError extends AutomationError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super('CRM_ERR_IDEMPOTENCY_IN_FLIGHT', message, { retryable: true });
    this.name = 'RemoteInFlightError';
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), provider: 'notification-service', retryAfterMs: this.retryAfterMs };
  }
}

// The kinds of value the known keys hold: a wrong one is a CRM_ERR_CONFIG naming it, not a TypeError later.
const HTTP_CHANNELS_OPTION_SHAPES: Readonly<Partial<Record<keyof HttpChannelsOptions, OptionShape>>> = {
  baseUrl: { kind: 'string', what: 'the Notification Service URL' },
  token: { kind: 'string', what: 'a service token' },
  types: { kind: 'strings', what: 'an array of action type names' },
  capabilities: { kind: 'record', what: 'an object of capabilities by action type', of: { kind: 'port', what: 'an object like { dedupes: true }', methods: [] } },
};

/**
 * Gateways that hand commands to a remote Notification Service (`POST /api/v1/<type>` with
 * `{ ...params, metadata }` and a bearer token): what a Trigger Service uses in the three-service
 * wiring. The service de-duplicates by `metadata.idempotencyKey`, so retries are safe. Its answers
 * are classified like any provider's: 503/502/429 transient (with Retry-After), 422 and other 4xx
 * permanent, carrying the provider error the service reported. A command's `trace` travels as
 * headers (`traceparent`, `tracestate`), which the Notification Service routes continue.
 *
 * Deliveries: `metadata` travels whole (`deliveryId`, `excludeProviders` included), and the result is
 * the service's, naming the real provider (`twilio`, not `notification-service`), so the ledger and
 * the metrics do too. A timeout or a connection lost after the request was written, or the service
 * saying its provider call was ambiguous, fails `ambiguous` (the engine holds such a send unless
 * `capabilities[type].dedupes`); the service's "in flight elsewhere" answer is a retryable
 * `CRM_ERR_IDEMPOTENCY_IN_FLIGHT`, which the engine waits out without spending attempts. The engine's
 * `SendContext.signal` aborts the request.
 *
 * Built-in types carry core's `commandSchema` and check each command before the request, so a bad
 * command fails permanently here with the same `providerCode` the service would report. They carry no
 * `paramsSchema`: the engine's own checks apply at save time (give the engine the same
 * `webhookAddressPolicy` as the service's webhook gateway).
 *
 * @example
 * const channels = createHttpChannels({ baseUrl: 'http://notifications:3000', token, capabilities: { webhook: { dedupes: true } } });
 * createAutomationEngine({ store, channels });
 */
export function createHttpChannels(options: HttpChannelsOptions): Record<string, ChannelGateway> {
  checkOptions('createHttpChannels', options, HTTP_CHANNELS_OPTION_KEYS, true);
  checkOptionShapes('createHttpChannels', options, HTTP_CHANNELS_OPTION_SHAPES);
  if (!options.token) throw new AutomationError('CRM_ERR_CONFIG', 'createHttpChannels needs a token');
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new AutomationError('CRM_ERR_CONFIG', `createHttpChannels: baseUrl ${JSON.stringify(options.baseUrl)} is not an absolute URL`);
  }
  for (const [type, declared] of Object.entries(options.capabilities ?? {})) checkOptions(`createHttpChannels: capabilities.${type}`, declared, CAPABILITY_KEYS, true);
  const origin = base.href.replace(/\/+$/, '');
  const timeoutMs = positiveIntOption('createHttpChannels: timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const gateway = (type: string): ChannelGateway => {
    const commandSchema = isBuiltInActionType(type) ? BUILT_IN_COMMAND_SCHEMAS[type] : undefined;
    const declared = options.capabilities?.[type];
    return {
      name: 'notification-service',
      ...(commandSchema ? { commandSchema } : {}),
      ...(declared?.dedupes === true ? { dedupes: true } : {}),
      ...(declared?.failover ? { failover: declared.failover } : {}),
      async send(command, context) {
        if (commandSchema) requireValidCommand('notification-service', commandSchema, command.params);
        const response = await httpExchange('notification-service', {
          url: `${origin}/api/v1/${encodeURIComponent(type)}`,
          method: 'POST',
          headers: {
            // W3C trace context (when tracing is on), so the service's spans join the sender's trace.
            ...traceHeadersOf(command.trace),
            authorization: `Bearer ${options.token}`,
            'content-type': 'application/json',
            accept: 'application/json',
            'idempotency-key': command.metadata.idempotencyKey,
          },
          body: JSON.stringify({ ...command.params, metadata: command.metadata }),
          timeoutMs,
          signal: context?.signal,
        });
        const json = parseJsonBody(response.body) as { result?: unknown; error?: RemoteError } | undefined;
        if (response.status < 200 || response.status >= 300) {
          const remote = json?.error;
          const detail = typeof remote?.message === 'string' ? remote.message : undefined;
          if (remote?.code === 'CRM_ERR_IDEMPOTENCY_IN_FLIGHT') {
            throw new RemoteInFlightError(`notification-service: ${detail ?? 'the command is being sent by another worker'}`, parseRetryAfter(response.headers['retry-after']));
          }
          const providerCode = remote?.providerCode ?? remote?.code;
          // The provider the service's gateway named, so failure series and the ledger keep it too.
          const provider = typeof remote?.provider === 'string' && remote.provider !== '' ? remote.provider : 'notification-service';
          throw httpFailure(provider, response, {
            providerCode: typeof providerCode === 'string' || typeof providerCode === 'number' ? providerCode : undefined,
            detail,
            ambiguous: remote?.ambiguous === true,
          });
        }
        // The service's gateways name the provider that took it (`{ provider: 'twilio', id }`).
        return json?.result ?? null;
      },
    };
  };
  return Object.fromEntries((options.types ?? ['sms', 'email', 'webhook']).map((type) => [type, gateway(type)]));
}
