import { AutomationError, checkOptions, optionKeys } from '@crm-automation/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { assetFor, BUILD_COMMAND, defaultAppRoot, hasBuiltApp, loadAppAssets, type AppAsset } from './app-assets.js';

/** Options of {@link managementUi}. */
export interface ManagementUiOptions {
  /**
   * Where the UI is mounted. Default `/ui`. Fastify's own `prefix` register option works too; when
   * both are given, Fastify's wins.
   */
  prefix?: string | undefined;
  /**
   * Where the Rules Service API is, as the browser sees it: `''` (default) for the same origin at
   * its root, a path such as `/api` for a prefixed API, or an absolute URL for another origin (also
   * allowed by the Content-Security-Policy's `connect-src`; that API must allow the UI's origin).
   */
  apiBase?: string | undefined;
  /** Directory of the built app. Default: the `dist/app` shipped in this package. */
  root?: string | undefined;
}

const MANAGEMENT_UI_OPTION_KEYS = optionKeys<ManagementUiOptions>()('prefix', 'apiBase', 'root');

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

function originOf(apiBase: string): string | null {
  if (!/^https?:\/\//i.test(apiBase)) return null;
  try {
    return new URL(apiBase).origin;
  } catch {
    throw new Error(`managementUi: apiBase ${JSON.stringify(apiBase)} is not a valid URL`);
  }
}

/**
 * The policy for the app: its own script and stylesheet only (nothing inline, no eval), requests to
 * its own origin and the API, no framing, no plugins.
 */
export function contentSecurityPolicy(apiBase: string): string {
  const api = originOf(apiBase);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${api ? ` ${api}` : ''}`,
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "manifest-src 'self'",
  ].join('; ');
}

/** index.html with the mount point (`<base href>`) and the API's address filled in. */
export function renderIndexHtml(template: string, basePath: string, apiBase: string): string {
  const base = `<base href="${escapeHtml(basePath)}" />`;
  const withBase = template.replace(/<head>/i, `<head>\n    ${base}`);
  return withBase.replace(/<meta name="crm-api-base" content="[^"]*"\s*\/?>/i, `<meta name="crm-api-base" content="${escapeHtml(apiBase)}" />`);
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
} as const;

function send(request: FastifyRequest, reply: FastifyReply, asset: AppAsset, cacheControl: string, extra: Record<string, string> = {}) {
  reply.headers({ ...SECURITY_HEADERS, ...extra, 'cache-control': cacheControl, etag: asset.etag, vary: 'accept-encoding' });
  reply.type(asset.contentType);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  const accepts = String(request.headers['accept-encoding'] ?? '');
  if (asset.gzip && /\bgzip\b/.test(accepts)) {
    reply.header('content-encoding', 'gzip');
    return reply.send(asset.gzip);
  }
  return reply.send(asset.body);
}

/**
 * The page served in place of the app when this package's own build is missing (a fresh checkout):
 * it says which command builds it. Nothing inline but text, so the strictest policy fits it.
 */
export const NOT_BUILT_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Management UI not built</title>
  </head>
  <body>
    <h1>The Management UI is not built yet</h1>
    <p>This server serves the Management UI (the Automation Builder) here, but its app has not been built. From the repository's root, run:</p>
    <pre><code>${escapeHtml(BUILD_COMMAND)}</code></pre>
    <p>then restart the server and reload this page. The rest of the server works without it.</p>
  </body>
</html>
`;

const NOT_BUILT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Every path under the prefix answers 503 with {@link NOT_BUILT_HTML}, never cached: the next load after a build gets the app. */
const serveNotBuilt: FastifyPluginAsync = async (app: FastifyInstance) => {
  const page = (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(503).headers({ ...SECURITY_HEADERS, 'content-security-policy': NOT_BUILT_CSP, 'cache-control': 'no-store' }).type('text/html; charset=utf-8').send(NOT_BUILT_HTML);
  app.get('/', page);
  app.get('/*', page);
};

const serveApp = (root: string): FastifyPluginAsync<ManagementUiOptions> => async (app: FastifyInstance, options) => {
  const assets = loadAppAssets(root);
  const apiBase = (options.apiBase ?? '').replace(/\/+$/, '');
  const basePath = `${app.prefix.replace(/\/+$/, '')}/`;
  const template = assets.get('index.html');
  if (!template) throw new Error('managementUi: the built app has no index.html');
  const index = assetFor(Buffer.from(renderIndexHtml(template.body.toString('utf8'), basePath, apiBase)), 'index.html');
  const csp = contentSecurityPolicy(apiBase);

  const serveIndex = (request: FastifyRequest, reply: FastifyReply) =>
    // Revalidated on every load, so a deploy is picked up at once; the hashed assets it names are immutable.
    send(request, reply, index, 'no-cache', { 'content-security-policy': csp });

  app.get('/', serveIndex);
  app.get('/*', (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    const asset = path === 'index.html' ? undefined : assets.get(path);
    if (asset) {
      const immutable = path.startsWith('assets/');
      return send(request, reply, asset, immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    }
    // A missing build file is a 404, not the app: a stale page asking for an old chunk must fail clearly.
    if (path.startsWith('assets/')) {
      return reply.code(404).headers(SECURITY_HEADERS).type('text/plain; charset=utf-8').send('Not found');
    }
    return serveIndex(request, reply);
  });
};

/**
 * Serves the Management UI (the Automation Builder) next to the Rules Service API:
 *
 * ```ts
 * app.register(rulesRoutes, { engine, authenticate: apiKeyAuth({ keys }) });
 * app.register(managementUi);                  // at /ui
 * app.register(managementUi, { prefix: '/admin', apiBase: '/api' });
 * ```
 *
 * The built single-page app is served from memory with a strict Content-Security-Policy; any path
 * under the prefix that is not a file gets the app (client-side routes), and hashed assets are
 * cached for a year.
 */
export const managementUi: FastifyPluginAsync<ManagementUiOptions> = createManagementUi(defaultAppRoot);

/**
 * {@link managementUi} with where its own build is looked for when no `root` is given. A `root` the
 * caller names must hold a build (a wrong path is a deployment error, refused at start); the
 * package's own build missing is a fresh checkout, answered by a page saying how to build it.
 * Exported for tests, not from the package entry.
 */
export function createManagementUi(defaultRoot: () => string): FastifyPluginAsync<ManagementUiOptions> {
  return async (app, registered) => {
    // Fastify reads logLevel and logSerializers from the registration options itself.
    const { logLevel: _logLevel, logSerializers: _logSerializers, ...options } = registered as ManagementUiOptions & Record<string, unknown>;
    checkOptions('managementUi', options, MANAGEMENT_UI_OPTION_KEYS);
    for (const key of ['prefix', 'apiBase', 'root'] as const) {
      const value: unknown = options[key];
      // A path that is not a string would fail inside `.replace` (a TypeError) or mount nowhere.
      if (value !== undefined && typeof value !== 'string') throw new AutomationError('CRM_ERR_CONFIG', `managementUi: ${key} must be a string`);
    }
    const root = options.root ?? defaultRoot();
    let serve: FastifyPluginAsync<ManagementUiOptions> = serveApp(root);
    if (options.root === undefined && !hasBuiltApp(root)) {
      app.log.warn({ root }, `Management UI not built: run \`${BUILD_COMMAND}\` and restart; meanwhile its pages say so`);
      serve = serveNotBuilt;
    }
    // Fastify applies a register-time `prefix` itself; without one, mount at options.prefix or /ui.
    if ((options as { prefix?: unknown }).prefix !== undefined && app.prefix !== '') {
      await serve(app, options);
      return;
    }
    const prefix = options.prefix ?? '/ui';
    await app.register(serve, { ...options, prefix });
  };
}
