import { checkOptions, optionKeys } from '../config/check-options.js';
import { checkOptionShapes, type OptionShape } from '../config/option-shapes.js';
import { classifyIpAddress, describeClassification, type AddressClassification, type AddressKind } from './address-classification.js';
import { formatIpAddress, parseIpLiteral } from './ip-literal.js';
import { isMetadataHostName } from './metadata-hosts.js';

/**
 * Which webhook destinations are allowed besides public unicast addresses. The default (`{}`)
 * allows public addresses only: the SSRF defence of the design doc's "Data Sanitization".
 */
export interface WebhookAddressPolicy {
  /**
   * Also allow loopback, private (RFC 1918), carrier-grade NAT and unique-local addresses, for
   * receivers inside your own network. Link-local (169.254.169.254 and the other metadata services
   * there), the cloud metadata endpoints outside it (`fd00:ec2::254`, `fd20:ce::254`,
   * `100.100.100.200`, `168.63.129.16`, ..., also in their IPv4-mapped, NAT64 and 6to4 forms),
   * multicast, broadcast, unspecified, documentation and reserved ranges stay blocked, and so do
   * metadata host names (`metadata.google.internal`, `metadata`, `instance-data`,
   * `metadata.tencentyun.com`, ...) whatever they resolve to; name such a host in `allowHosts`.
   */
  allowPrivateNetworks?: boolean | undefined;
  /**
   * Hostnames or IP literals that may be reached whatever they resolve to (tests, internal
   * receivers). Compared case-insensitively, without a trailing dot; IP literals in any spelling.
   */
  allowHosts?: readonly string[] | undefined;
}

const PRIVATE_NETWORK_KINDS: ReadonlySet<AddressKind> = new Set(['loopback', 'private', 'shared', 'unique-local', 'site-local']);

/** Lower-case host without brackets or trailing dot; IP literals in canonical form. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && !h.includes(':')) h = h.slice(0, -1);
  const literal = parseIpLiteral(h);
  return literal ? formatIpAddress(literal) : h;
}

/** The same policy whatever its spelling: hosts normalized, de-duplicated and sorted. */
export function canonicalWebhookAddressPolicy(policy: WebhookAddressPolicy = {}): { allowPrivateNetworks: boolean; allowHosts: string[] } {
  return { allowPrivateNetworks: policy.allowPrivateNetworks === true, allowHosts: [...new Set((policy.allowHosts ?? []).map(normalizeHost))].sort() };
}

/** Whether two policies allow the same destinations. */
export function sameWebhookAddressPolicy(a: WebhookAddressPolicy | undefined, b: WebhookAddressPolicy | undefined): boolean {
  const x = canonicalWebhookAddressPolicy(a);
  const y = canonicalWebhookAddressPolicy(b);
  return x.allowPrivateNetworks === y.allowPrivateNetworks && x.allowHosts.length === y.allowHosts.length && x.allowHosts.every((h, i) => h === y.allowHosts[i]);
}

/** Answers "may this host/address be reached?" for one policy. */
export interface WebhookAddressCheck {
  /** True when the host is named in `allowHosts`: it may reach any address. */
  isAllowedHost(host: string): boolean;
  /** A refusal message for a resolved or literal address, or null when it may be reached. */
  checkAddress(address: string, host?: string | undefined): string | null;
  /**
   * Check of a URL, at save time and before every send: scheme, credentials, literal blocked
   * addresses, `localhost` and cloud metadata host names (`metadata.google.internal`, ...). Other
   * hostnames are resolved only at send time, where the address check is the authority.
   */
  checkUrl(url: URL): string | null;
}

/** What the policy's keys hold (a host list given as one string would otherwise fail inside `map`). */
export const WEBHOOK_ADDRESS_POLICY_SHAPES: Readonly<Record<keyof WebhookAddressPolicy, OptionShape>> = {
  allowPrivateNetworks: { kind: 'boolean', what: 'true or false' },
  allowHosts: { kind: 'strings', what: 'an array of host names' },
};

/** Builds the address check of a webhook policy (see {@link WebhookAddressPolicy}). */
export function createWebhookAddressCheck(policy: WebhookAddressPolicy = {}): WebhookAddressCheck {
  return addressCheck('createWebhookAddressCheck', policy);
}

function addressCheck(factory: string, policy: WebhookAddressPolicy): WebhookAddressCheck {
  checkOptions(factory, policy, optionKeys<WebhookAddressPolicy>()('allowPrivateNetworks', 'allowHosts'));
  checkOptionShapes(factory, policy, WEBHOOK_ADDRESS_POLICY_SHAPES);
  const allowed = new Set((policy.allowHosts ?? []).map(normalizeHost));
  const allowPrivate = policy.allowPrivateNetworks === true;

  const isAllowedHost = (host: string) => allowed.has(normalizeHost(host));
  const refusal = (c: AddressClassification): string | null => {
    if (c.kind === 'public') return null;
    if (allowPrivate && PRIVATE_NETWORK_KINDS.has(c.kind)) return null;
    if (allowed.has(c.address)) return null;
    return `${describeClassification(c)}; webhooks may reach public addresses only (allow it with allowHosts${PRIVATE_NETWORK_KINDS.has(c.kind) ? ' or allowPrivateNetworks' : ''})`;
  };

  const checkAddress = (address: string, host?: string | undefined): string | null => {
    if (host !== undefined && isAllowedHost(host)) return null;
    const parsed = parseIpLiteral(address);
    if (!parsed) return `${JSON.stringify(address)} is not an IP address`;
    return refusal(classifyIpAddress(parsed));
  };

  return {
    isAllowedHost,
    checkAddress,
    checkUrl(url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme "${url.protocol.replace(/:$/, '')}" is not allowed; use http or https`;
      if (url.username || url.password) return 'credentials in the URL are not allowed; use headers';
      const host = normalizeHost(url.hostname);
      if (host === '') return 'the URL has no host';
      if (allowed.has(host)) return null;
      const literal = parseIpLiteral(host);
      if (literal) return refusal(classifyIpAddress(literal));
      if (isMetadataHostName(host)) {
        return `${host} is a cloud metadata service; webhooks may never reach one (allow it with allowHosts)`;
      }
      // RFC 6761: these names always resolve to loopback.
      if (host === 'localhost' || host.endsWith('.localhost')) {
        return allowPrivate ? null : `${host} is a loopback name; webhooks may reach public addresses only (allow it with allowHosts or allowPrivateNetworks)`;
      }
      return null;
    },
  };
}

/**
 * The engine's default save-time webhook URL check: refuses non-http(s) schemes, credentials,
 * literal non-public addresses in any spelling and `localhost`. Pass it (or your own) as
 * `checkWebhookUrl`; it returns a refusal message or null.
 */
export function createWebhookUrlCheck(policy: WebhookAddressPolicy = {}): (url: URL) => string | null {
  return addressCheck('createWebhookUrlCheck', policy).checkUrl;
}
