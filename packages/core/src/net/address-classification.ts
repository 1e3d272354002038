import { formatIpAddress, parseIpLiteral, type IpAddress } from './ip-literal.js';

/**
 * What kind of destination an address is. Only `public` is globally reachable unicast; every other
 * kind is refused for webhooks unless a policy allows it.
 */
export type AddressKind =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  /** 100.64.0.0/10, carrier-grade NAT. */
  | 'shared'
  /** 169.254.0.0/16 (cloud metadata at 169.254.169.254) and fe80::/10. */
  | 'link-local'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  /**
   * A cloud provider's metadata or platform endpoint outside 169.254.0.0/16 (those inside it are
   * `link-local`): blocked whatever the policy, unless named in `allowHosts`.
   */
  | 'metadata';

/** How an IPv6 address carries an IPv4 address that was classified instead. */
export type EmbeddingForm = 'ipv4-mapped' | 'ipv4-compatible' | 'nat64' | '6to4';

export interface AddressClassification {
  /** Canonical text of the address that was classified. */
  readonly address: string;
  readonly family: 4 | 6;
  readonly kind: AddressKind;
  /** The special-purpose range that matched, e.g. `10.0.0.0/8`; absent for public addresses. */
  readonly range?: string | undefined;
  /** Set when an IPv6 address embeds an IPv4 address (mapped, NAT64, 6to4, compatible). */
  readonly embedded?: { readonly form: EmbeddingForm; readonly address: string } | undefined;
}

interface Range {
  readonly prefix: Uint8Array;
  readonly length: number;
  readonly text: string;
  readonly kind: AddressKind;
}

function range(text: string, kind: AddressKind): Range {
  const [address = '', bits = ''] = text.split('/');
  const parsed = parseIpLiteral(address);
  if (!parsed) throw new Error(`bad range ${text}`);
  return { prefix: parsed.bytes, length: Number(bits), text, kind };
}

/**
 * Metadata and platform endpoints that sit outside link-local space, so a policy allowing private
 * networks would otherwise reach them. Sources: each provider's instance-metadata documentation.
 */
const METADATA_ENDPOINTS: readonly Range[] = [
  // AWS Nitro instance services over IPv6: IMDS (::254), the Route 53 Resolver (::253), Time Sync
  // (::123) and the EKS Pod Identity agent (::23) all sit in this one prefix.
  range('fd00:ec2::/64', 'metadata'),
  range('fd20:ce::254/128', 'metadata'), // Google Cloud metadata server over IPv6
  range('fd00:c1::a9fe:a9fe/128', 'metadata'), // Oracle Cloud (OCI) instance metadata over IPv6
  range('fd00:a9fe:a9fe::1/128', 'metadata'), // Akamai (Linode) metadata service over IPv6
  range('fd00:42::42/128', 'metadata'), // Scaleway instance metadata over IPv6
  range('100.100.100.200/32', 'metadata'), // Alibaba Cloud ECS metadata (inside 100.64.0.0/10)
  range('168.63.129.16/32', 'metadata'), // Azure WireServer / platform endpoint
  range('192.0.0.192/32', 'metadata'), // Oracle Cloud legacy metadata
];

// IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and updates), most specific first.
const IPV4_RANGES: readonly Range[] = [
  range('0.0.0.0/8', 'unspecified'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', 'reserved'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

const IPV6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('64:ff9b:1::/48', 'reserved'),
  range('100::/64', 'reserved'),
  range('2001::/23', 'reserved'),
  range('2001:db8::/32', 'documentation'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'reserved'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local'),
  range('ff00::/8', 'multicast'),
];

const MAPPED = range('::ffff:0:0/96', 'reserved');
const COMPATIBLE = range('::/96', 'reserved');
const NAT64 = range('64:ff9b::/96', 'reserved');
const SIX_TO_FOUR = range('2002::/16', 'reserved');
const GLOBAL_UNICAST = range('2000::/3', 'public');

function inRange(bytes: Uint8Array, r: Range): boolean {
  const full = Math.floor(r.length / 8);
  for (let i = 0; i < full; i++) if (bytes[i] !== r.prefix[i]) return false;
  const rest = r.length % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[full] ?? 0) & mask) === ((r.prefix[full] ?? 0) & mask);
}

function classifyV4(bytes: Uint8Array): { kind: AddressKind; range?: string } {
  const match = METADATA_ENDPOINTS.find((r) => r.prefix.length === 4 && inRange(bytes, r)) ?? IPV4_RANGES.find((r) => inRange(bytes, r));
  return match ? { kind: match.kind, range: match.text } : { kind: 'public' };
}

function embeddedV4(bytes: Uint8Array): { form: EmbeddingForm; v4: Uint8Array } | null {
  if (inRange(bytes, MAPPED)) return { form: 'ipv4-mapped', v4: bytes.slice(12, 16) };
  if (inRange(bytes, NAT64)) return { form: 'nat64', v4: bytes.slice(12, 16) };
  if (inRange(bytes, SIX_TO_FOUR)) return { form: '6to4', v4: bytes.slice(2, 6) };
  // `::` and `::1` are in ::/96 too, but they are unspecified and loopback, not IPv4-compatible.
  if (inRange(bytes, COMPATIBLE) && !IPV6_RANGES.slice(0, 2).some((r) => inRange(bytes, r))) {
    return { form: 'ipv4-compatible', v4: bytes.slice(12, 16) };
  }
  return null;
}

/** Classifies a parsed address; IPv6 forms that embed IPv4 are judged by the embedded address. */
export function classifyIpAddress(address: IpAddress): AddressClassification {
  const text = formatIpAddress(address);
  if (address.family === 4) return { address: text, family: 4, ...classifyV4(address.bytes) };

  const embedded = embeddedV4(address.bytes);
  if (embedded) {
    const inner = classifyV4(embedded.v4);
    const info = { form: embedded.form, address: formatIpAddress({ family: 4, bytes: embedded.v4 }) };
    // IPv4-compatible addresses are deprecated (RFC 4291) and never routable, whatever they embed.
    if (embedded.form === 'ipv4-compatible' && inner.kind === 'public') {
      return { address: text, family: 6, kind: 'reserved', range: COMPATIBLE.text, embedded: info };
    }
    return { address: text, family: 6, ...inner, embedded: info };
  }
  const match = METADATA_ENDPOINTS.find((r) => r.prefix.length === 16 && inRange(address.bytes, r)) ?? IPV6_RANGES.find((r) => inRange(address.bytes, r));
  if (match) return { address: text, family: 6, kind: match.kind, range: match.text };
  // Only 2000::/3 is allocated for global unicast; everything else is unassigned or special.
  if (!inRange(address.bytes, GLOBAL_UNICAST)) return { address: text, family: 6, kind: 'reserved', range: 'outside 2000::/3' };
  return { address: text, family: 6, kind: 'public' };
}

/**
 * Classifies an IP literal in any spelling (`127.1`, `0x7f.1`, `[::ffff:a9fe:a9fe]`, ...).
 * Returns null when `text` is not an IP literal.
 */
export function classifyAddress(text: string): AddressClassification | null {
  const parsed = parseIpLiteral(text);
  return parsed ? classifyIpAddress(parsed) : null;
}

/** One line for an error message: `127.0.0.1 is a loopback address (127.0.0.0/8)`. */
export function describeClassification(c: AddressClassification): string {
  const via = c.embedded ? ` (${c.embedded.form} form of ${c.embedded.address})` : '';
  const where = c.range ? ` in ${c.range}` : '';
  return `${c.address}${via} is a ${c.kind} address${where}`;
}
