import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManagementUi, managementUi } from '../src/management-ui.js';

// A fresh checkout: the package's own build (its default root) is missing.
describe('managementUi before the app is built', () => {
  let dir: string;
  let missing: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crm-ui-not-built-'));
    missing = join(dir, 'dist', 'app');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (register: (app: ReturnType<typeof Fastify>) => Promise<unknown>) => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = Fastify({ logger: { level: 'warn', stream } });
    await register(app);
    await app.ready();
    return { app, logs: () => lines.join('') };
  };

  it('serves a page at every path under the prefix saying which command builds it, and logs it once', async () => {
    const { app, logs } = await start((a) => a.register(createManagementUi(() => missing)));
    for (const url of ['/ui', '/ui/', '/ui/rules/r_1/runs', '/ui/assets/index-abc.js']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('<title>Management UI not built</title>');
      expect(res.body).toContain('<code>npm run build -w @crm-automation/ui</code>');
      expect(res.body).toContain('restart the server');
      // The page must not tell a visitor where the server's files are.
      expect(res.body).not.toContain(dir);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await app.inject({ method: 'HEAD', url: '/ui/' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/elsewhere' })).statusCode).toBe(404);
    const warnings = logs().split('\n').filter((line) => line.includes('Management UI not built'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('npm run build -w @crm-automation/ui');
    expect(JSON.parse(warnings[0] ?? '{}')).toMatchObject({ level: 40, root: missing });
    await app.close();
  });

  it('mounts the page where the prefix says', async () => {
    const { app } = await start((a) => a.register(createManagementUi(() => missing), { prefix: '/admin' }));
    expect((await app.inject({ url: '/admin/rules' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/admin' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/ui/' })).statusCode).toBe(404);
    await app.close();
  });

  it('serves the app as soon as the default root holds a build at start', async () => {
    const built = mkdtempSync(join(dir, 'built-'));
    writeFileSync(join(built, 'index.html'), '<!doctype html><html><head><meta name="crm-api-base" content="" /></head><body>app</body></html>');
    const { app } = await start((a) => a.register(createManagementUi(() => built)));
    const res = await app.inject({ url: '/ui/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<base href="/ui/" />');
    await app.close();
  });

  it('still refuses a root the caller named that holds no build (a deployment error, not a fresh checkout)', async () => {
    const app = Fastify();
    await expect(app.register(managementUi, { root: missing }).ready()).rejects.toThrow(/no built app in .*npm run build -w @crm-automation\/ui/);
    await app.close();
  });
});
