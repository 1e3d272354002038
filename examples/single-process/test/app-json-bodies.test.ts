import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, type RawResponse } from '@crm-automation/testing';
import { startApp, type AppProcess } from './support/app-process.js';

/*
 * The app reads JSON bodies as every route of the SDK does, over real HTTP: UTF-8 only (another
 * charset: 415; bytes that are not UTF-8: 400) and each key once (400 naming the key's path), with
 * the `{ error: { code, message, issues? } }` body of every other error. Nothing of it is stored.
 */

const KEY = 'crm_dev_single_process_json_bodies';

function post(base: string, path: string, contentType: string, payload: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: 'POST', path, headers: { authorization: `Bearer ${KEY}`, 'content-type': contentType, 'content-length': String(payload.length) } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('npm run app: strict JSON bodies', () => {
  let app: AppProcess;
  beforeAll(async () => {
    app = await startApp(KEY, {});
  }, 60_000);
  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited();
    }
  });

  const event = { name: 'job.created', id: 'evt-json-bodies', payload: { job: { id: 'j1', note: '@' } } };
  const withBytes = (bytes: number[]) => {
    const text = JSON.stringify(event);
    const at = text.indexOf('"@"') + 1;
    return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + 1))]);
  };

  it.each(['/events', '/rules', '/rules/validate'])('%s refuses other charsets, bytes that are not UTF-8 and duplicate keys', async (path) => {
    for (const charset of ['latin1', 'utf-16', 'iso-8859-1']) {
      expectErrorBody(await post(app.base, path, `application/json; charset=${charset}`, Buffer.from(JSON.stringify(event))), { status: 415, code: 'CRM_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' });
    }
    for (const bytes of [[0xff], [0xc0, 0xaf], [0xe9]]) {
      expectErrorBody(await post(app.base, path, 'application/json', withBytes(bytes)), { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    }
    const duplicate = await post(app.base, path, 'application/json', Buffer.from('{"name":"job.created","payload":{"job":{"id":"j1","id":"j2"}}}'));
    expectErrorBody(duplicate, { status: 400, code: 'CRM_ERR_HTTP_BAD_REQUEST' });
    expect(JSON.parse(duplicate.body)).toMatchObject({ error: { issues: [{ path: 'payload.job.id', code: 'duplicate_key' }] } });
  });

  it('still takes a good event in UTF-8, declared or not', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8']) {
      const response = await post(app.base, '/events', type, Buffer.from(JSON.stringify({ ...event, id: `evt-good-${type.length}`, payload: { job: { id: 'j1', note: 'café' } } })));
      expect(response.statusCode, response.body).toBe(202);
    }
  });
});
