import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentSecurityPolicy, managementUi, renderIndexHtml } from '../src/index.js';

const INDEX = `<!doctype html><html lang="en"><head><meta charset="utf-8" /><meta name="crm-api-base" content="" /><title>x</title>
<script type="module" crossorigin src="./assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>`;
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;

describe('managementUi plugin', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'crm-ui-assets-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), INDEX);
    writeFileSync(join(root, 'assets', 'index-abc123.js'), SCRIPT);
    writeFileSync(join(root, 'robots.txt'), 'User-agent: *\nDisallow: /\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const serve = async (register: (app: ReturnType<typeof Fastify>) => Promise<unknown>) => {
    const app = Fastify();
    await register(app);
    await app.ready();
    return app;
  };

  it('serves the app at /ui by default, with its base and a strict CSP', async () => {
    const app = await serve((a) => a.register(managementUi, { root }));
    for (const url of ['/ui', '/ui/', '/ui/rules/r_1/runs']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<base href="/ui/" />');
      expect(res.headers['cache-control']).toBe('no-cache');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await app.inject({ url: '/elsewhere' })).statusCode).toBe(404);
    await app.close();
  });

  it('caches hashed assets for a year, compresses them, and answers 304 to a known ETag', async () => {
    const app = await serve((a) => a.register(managementUi, { root }));
    const res = await app.inject({ url: '/ui/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(res.rawPayload).toString()).toBe(SCRIPT);
    const plain = await app.inject({ url: '/ui/assets/index-abc123.js' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(SCRIPT);
    const again = await app.inject({ url: '/ui/assets/index-abc123.js', headers: { 'if-none-match': String(res.headers['etag']) } });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ url: '/ui/robots.txt' })).body).toContain('Disallow');
    expect((await app.inject({ method: 'HEAD', url: '/ui/' })).statusCode).toBe(200);
    await app.close();
  });

  it('answers 404 for a missing build file instead of the app', async () => {
    const app = await serve((a) => a.register(managementUi, { root }));
    const res = await app.inject({ url: '/ui/assets/index-old999.js' });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('<html');
    await app.close();
  });

  it('mounts where Fastify or the prefix option says, and tells the app where the API is', async () => {
    const app = await serve(async (a) => {
      await a.register(managementUi, { root, prefix: '/admin/builder', apiBase: 'https://rules.example.test/api/' });
      await a.register(async (child: FastifyInstance) => child.register(managementUi, { root, prefix: '/nested' }), { prefix: '/outer' });
    });
    const res = await app.inject({ url: '/admin/builder/rules/new' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<base href="/admin/builder/" />');
    expect(res.body).toContain('<meta name="crm-api-base" content="https://rules.example.test/api" />');
    expect(String(res.headers['content-security-policy'])).toContain("connect-src 'self' https://rules.example.test");
    const nested = await app.inject({ url: '/outer/nested/' });
    expect(nested.body).toContain('<base href="/outer/nested/" />');
    expect((await app.inject({ url: '/ui/' })).statusCode).toBe(404);
    await app.close();
  });

  it('escapes what it writes into the page', () => {
    const html = renderIndexHtml(INDEX, '/x"><script>/', '/api"><script>alert(1)</script>');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
    expect(contentSecurityPolicy('/api')).toContain("connect-src 'self';");
    expect(() => contentSecurityPolicy('http://[bad')).toThrow(/apiBase/);
  });

  it('refuses to start without a built app, saying how to build it', async () => {
    const app = Fastify();
    await expect(app.register(managementUi, { root: join(root, 'nowhere') }).ready()).rejects.toThrow(/npm run build -w @crm-automation\/ui/);
    await app.close();
  });
});
