import type { ChannelGateway } from '../ports/gateway.js';
import { hasTraceContext, type Tracer } from '../ports/tracer.js';

/**
 * Wraps a gateway so each send is a client span, child of the trace the command carries; the
 * command passed on carries the span's own context (for gateways that forward it as headers).
 * For services that receive commands from elsewhere (a Notification Service).
 */
export function withTracing<G extends ChannelGateway>(gateway: G, tracer: Tracer, name = gateway.name ?? 'gateway'): G {
  const wrapped: ChannelGateway = {
    ...gateway,
    async send(command, context) {
      const span = tracer.startSpan(`crm.gateway.${name}`, {
        parent: command.trace,
        kind: 'client',
        attributes: {
          'crm.provider': name,
          'crm.action_type': command.type,
          'crm.trigger_id': command.metadata.triggerId,
          'crm.rule_id': command.metadata.ruleId,
          'crm.account_id': command.metadata.accountId,
        },
      });
      try {
        const trace = span.carrier();
        return await gateway.send(hasTraceContext(trace) ? { ...command, trace } : command, context);
      } catch (error) {
        span.recordError(error);
        throw error;
      } finally {
        span.end();
      }
    },
  };
  return wrapped as G;
}
