/**
 * Where the Rules Service API lives. The Fastify plugin that serves the app writes it into
 * `<meta name="crm-api-base">` (empty: same origin as the page, at the root).
 */
export function apiBase(): string {
  const meta = document.querySelector('meta[name="crm-api-base"]');
  return meta?.getAttribute('content') ?? '';
}
