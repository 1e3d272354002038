/**
 * Host names of cloud metadata services. They resolve to the metadata address only inside the cloud
 * (and a resolver may answer anything for them), so they are refused by name, before any lookup,
 * whatever the address policy allows; only `allowHosts` naming one opens it. Sources: each
 * provider's instance-metadata documentation.
 */
const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  'metadata', // Google Cloud (and clouds emulating it): the short name through the search domain
  'metadata.google.internal', // Google Cloud
  'metadata.goog', // Google Cloud
  'instance-data', // AWS EC2: the short name through the search domain
  'instance-data.ec2.internal', // AWS EC2 (us-east-1)
  'metadata.tencentyun.com', // Tencent Cloud
  'api.metadata.cloud.ibm.com', // IBM Cloud VPC
  'metadata.platformequinix.com', // Equinix Metal
  'metadata.packet.net', // Equinix Metal (Packet)
]);

// The labels a provider's private zone gives its metadata service: `metadata.<zone>.internal`
// (Google Cloud's per-project zones) and `instance-data.<region>.compute.internal` (AWS regions).
const METADATA_FIRST_LABELS: ReadonlySet<string> = new Set(['metadata', 'instance-data']);

/**
 * True when `host` (a URL's hostname: lower-case, IDNs already in punycode) names a cloud metadata
 * service, with or without a trailing dot.
 */
export function isMetadataHostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (METADATA_HOST_NAMES.has(name)) return true;
  const labels = name.split('.');
  return labels.length > 1 && METADATA_FIRST_LABELS.has(labels[0] ?? '') && labels[labels.length - 1] === 'internal';
}
