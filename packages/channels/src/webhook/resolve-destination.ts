import { lookup as dnsLookup } from 'node:dns/promises';
import { parseIpLiteral, formatIpAddress, type WebhookAddressCheck } from '@crm-automation/core';
import { GatewayError } from '@crm-automation/core';

/** One address a hostname resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to every address it has (the system resolver by default). Injectable for tests. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** The system resolver (getaddrinfo), every address, in the order the system prefers. */
export const systemResolver: HostResolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

// The resolver says the name does not exist: retrying will not help.
const PERMANENT_DNS_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EBADNAME']);

/**
 * Finds the address a webhook will connect to: the literal itself, or every address the hostname
 * resolves to, each checked against the policy. Any blocked answer refuses the whole delivery (an
 * attacker's DNS could mix a public and a private answer). Returns the address to pin the
 * connection to.
 */
export async function resolveDestination(url: URL, check: WebhookAddressCheck, resolve: HostResolver, signal?: AbortSignal): Promise<ResolvedAddress> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = parseIpLiteral(host);
  if (literal) {
    const refused = check.checkAddress(formatIpAddress(literal), host);
    if (refused) throw new GatewayError(`webhook: ${refused}`, { provider: 'webhook', retryable: false, providerCode: 'blocked_address' });
    return { address: formatIpAddress(literal), family: literal.family };
  }

  let answers: readonly ResolvedAddress[];
  try {
    answers = await untilAborted(resolve(host), signal);
  } catch (error) {
    if (signal?.aborted && error === signal.reason) {
      // Nothing has left this process: the send stops here, transient and not ambiguous.
      throw new GatewayError(`webhook: resolving ${host} was aborted: ${(error as Error | undefined)?.message ?? 'aborted'}`, { provider: 'webhook', retryable: true, providerCode: 'aborted', cause: error });
    }
    const code = (error as { code?: unknown }).code;
    const permanent = typeof code === 'string' && PERMANENT_DNS_CODES.has(code);
    throw new GatewayError(`webhook: could not resolve ${host}: ${(error as Error).message}`, {
      provider: 'webhook',
      retryable: !permanent,
      providerCode: typeof code === 'string' ? code : 'dns_error',
      cause: error,
    });
  }
  if (answers.length === 0) {
    throw new GatewayError(`webhook: ${host} has no addresses`, { provider: 'webhook', retryable: false, providerCode: 'ENODATA' });
  }
  const checked: ResolvedAddress[] = [];
  for (const answer of answers) {
    const parsed = parseIpLiteral(answer.address);
    const refused = parsed ? check.checkAddress(formatIpAddress(parsed), host) : `resolver answered ${JSON.stringify(answer.address)}, not an IP address`;
    if (refused) {
      throw new GatewayError(`webhook: ${host} resolves to a blocked address: ${refused}`, { provider: 'webhook', retryable: false, providerCode: 'blocked_address' });
    }
    if (parsed) checked.push({ address: formatIpAddress(parsed), family: parsed.family });
  }
  return checked[0] as ResolvedAddress;
}

/** `work`, or the abort reason as soon as `signal` aborts (a resolver need not take a signal of its own). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
