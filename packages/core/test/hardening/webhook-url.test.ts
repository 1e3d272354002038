import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, compileUrlTemplate, createAutomationEngine, createMemoryStore, createWebhookUrlCheck, isAutomationError, paramsIssues, webhookCommandSchema } from '@crm-automation/core';

const ssrf = createWebhookUrlCheck();
const check = (url: string) => checkWebhookUrl(url, ssrf);

describe('webhook URL templates at save time', () => {
  // Spellings that would let event data choose the host: the WHATWG parser (what fetch uses) reads
  // each of them with the template inside the authority.
  const hostFromEvent = [
    'http:/{{job.host}}/x',
    'https:\\{{job.host}}',
    'https:\\\\{{job.host}}/x',
    'http:\t//{{job.host}}/x',
    'http://\t{{job.host}}/x',
    'http:{{job.host}}/x',
    'HTTP://{{job.host}}/x',
    'http:///{{job.host}}/x',
    'http://{{job.host}}.example.com/x',
    'http://example.com{{job.suffix}}/x',
    'http://ex{{job.x}}ample.com/',
    'http://user@{{job.host}}/x',
    'http://{{job.user}}@example.com/x',
    'http://example.com:{{job.port}}/x',
    'http://{{!}}{{job.host}}/x',
    'http://{{! comment }}{{{job.host}}}/x',
    'http://{{~job.host~}}/x',
    'http://[{{job.v6}}]/x',
    '{{job.scheme}}://example.com/x',
    'http{{job.s}}://example.com/x',
    ' http://{{job.host}}/x',
    'http://{{lookup job "host"}}/x',
  ];
  it.each(hostFromEvent)('refuses %j', (url) => {
    const problem = check(url);
    expect(problem?.code).toBe('invalid_url');
  });

  // Literal private addresses that a comment or whitespace control would otherwise hide.
  const literalPrivate = [
    'http://127.0.{{!}}0.1/x',
    'http://127.{{!-- hidden --}}0.0.1/x',
    'http://{{!}}localhost/x',
    'http://169.254.169.{{!}}254/latest/meta-data',
    'http://[::{{!}}1]/x',
    'http://0x7f.{{!}}1/x',
    'http:/127.0.0.1/x',
    'http:\\\\10.0.0.1\\x',
  ];
  it.each(literalPrivate)('reads %j as the literal address it is, and refuses it', (url) => {
    expect(check(url)?.code).toBe('blocked_address');
  });

  const accepted = [
    'https://hooks.example.com/new-lead',
    'https://hooks.example.com/jobs/{{job.id}}',
    'https://hooks.example.com/jobs/{{job.id}}?client={{job.client.name}}#{{job.number}}',
    'https://hooks.example.com/{{! note }}jobs',
    'https://hooks.example.com:8443/x/{{lookup job "id"}}',
  ];
  it.each(accepted)('accepts %j', (url) => {
    expect(check(url)).toBeNull();
  });

  it.each(['https://hooks.example.com:0/x', 'http://hooks.example.com:00/{{job.id}}', 'http://hooks.example.com:000/', 'https:\\\\hooks.example.com:0\\x'])('refuses %j: port 0 cannot be connected to, at save time and in a rendered command', (url) => {
    expect(check(url)?.code).toBe('invalid_url');
    expect(paramsIssues(webhookCommandSchema.safeParse({ url: url.replace('{{job.id}}', '1') })).map((i) => i.code)).toEqual(['invalid_url']);
  });

  it('refuses blocks in URLs and templates that would not render', () => {
    expect(check('https://example.com/{{#if job.a}}a{{/if}}')?.code).toBe('template_syntax');
    expect(check('https://example.com/{{#each job.a}}a{{/each}}')?.code).toBe('template_syntax');
    expect(check('https://example.com/{{exec "x"}}')?.code).toBe('template_syntax');
    expect(check('https://example.com/{{log "x"}}')?.code).toBe('template_syntax');
    expect(check('https://example.com/{{job.id')?.code).toBe('template_syntax');
  });

  it('never accepts a URL whose host contains a template, for generated hosts and positions', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('http:', 'https:', 'HTTP:', 'hTtPs:'),
        fc.constantFrom('//', '/', '\\\\', '\\', '///', '\t//', '/\t/', ''),
        fc.constantFrom('', 'a.', 'x-', 'user@', '{{!}}'),
        fc.constantFrom('{{job.h}}', '{{{job.h}}}', '{{~job.h}}', '{{ job.h }}'),
        fc.constantFrom('', '.example.com', ':80', '.com'),
        fc.constantFrom('', '/', '/p', '?q=1', '#f'),
        (scheme, slashes, before, template, after, rest) => {
          const url = scheme + slashes + before + template + after + rest;
          expect(check(url)).not.toBeNull();
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('is the check the engine runs on webhook rules', () => {
    const engine = createAutomationEngine({ store: createMemoryStore() });
    const result = engine.rules.validate({
      name: 'r',
      trigger: { eventName: 'e' },
      conditions: { all: [{ fact: 'a', operator: 'equal', value: 1 }] },
      actions: [{ type: 'webhook', params: { url: 'http:/{{job.host}}/x' } }],
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues).toEqual([expect.objectContaining({ path: 'actions[0].params.url', code: 'invalid_url' })]);
  });
});

describe('webhook URL templates at render time', () => {
  it('encodes every inserted value so it cannot add a segment, query or fragment', () => {
    const render = compileUrlTemplate('https://example.com/jobs/{{job.id}}/notes?x={{job.x}}');
    expect(render({ job: { id: 'a/b?c#d', x: '&y=1' } })).toBe('https://example.com/jobs/a%2Fb%3Fc%23d/notes?x=%26y%3D1');
    expect(new URL(render({ job: { id: '..\\..', x: '' } })).pathname).toBe('/jobs/..%5C../notes');
  });

  it.each(['.', '..', '%2e', '%2E%2e', '.%2e'])('refuses a value that makes a whole path segment %j', (value) => {
    // '%2e' inserted is encoded to '%252e' (safe); only raw dots can form a dot segment.
    const render = compileUrlTemplate('https://example.com/api/{{job.id}}/x');
    const outcome = (() => {
      try {
        return render({ job: { id: value } });
      } catch (error) {
        return isAutomationError(error) ? error.code : 'untyped';
      }
    })();
    if (/^\.{1,2}$/.test(value)) expect(outcome).toBe('CRM_ERR_RENDER');
    else expect(new URL(outcome).pathname.startsWith('/api/')).toBe(true);
  });

  it('keeps the saved path for any inserted value', () => {
    const render = compileUrlTemplate('https://example.com/api/v1/{{job.a}}/{{job.b}}/end?q={{job.c}}');
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        let url: string;
        try {
          url = render({ job: { a, b, c } });
        } catch (error) {
          expect(isAutomationError(error) && error.code).toBe('CRM_ERR_RENDER');
          return;
        }
        const parsed = new URL(url);
        expect(parsed.host).toBe('example.com');
        expect(parsed.pathname.startsWith('/api/v1/')).toBe(true);
        expect(parsed.pathname.endsWith('/end')).toBe(true);
        expect(parsed.pathname.split('/')).toHaveLength(6);
      }),
      { numRuns: 2_000 },
    );
  });

  const renderOutcome = (template: string, value: string): string => {
    try {
      return compileUrlTemplate(template)({ job: { v: value } });
    } catch (error) {
      return isAutomationError(error) ? error.code : `untyped ${String(error)}`;
    }
  };

  // A value completes a dot segment or leaves a segment empty: with text of the template around it,
  // at the start, in the middle or at the end of the path, and empty values included.
  it.each([
    ['https://example.com/a/.{{job.v}}/b', ''],
    ['https://example.com/a/{{job.v}}./b', ''],
    ['https://example.com/a/.{{job.v}}/b', '.'],
    ['https://example.com/a/{{job.v}}./b', '.'],
    ['https://example.com/a/{{job.v}}{{job.v}}/b', '.'],
    ['https://example.com/a/%2{{job.v}}/b', 'e'],
    ['https://example.com/a/%2{{job.v}}/b', 'E'],
    ['https://example.com/a/.%2{{job.v}}', 'e'],
    ['https://example.com/a/{{job.v}}/b', ''],
    ['https://example.com/{{job.v}}/b', ''],
    ['https://example.com/a/{{job.v}}', ''],
    ['https://example.com/{{job.v}}', ''],
    ['https://example.com/a/{{job.v}}?q=1', ''],
    ['https://example.com/a/{{job.v}}#f', ''],
    ['https://example.com/a/{{job.v}}{{job.v}}/b', ''],
    // (`\\{{` would be Handlebars' escape, so the value follows a slash)
    ['https://example.com\\a/{{job.v}}\\b', ''],
    ['https://example.com/a/{{job.v}}/b', '..'],
    ['https://example.com/{{job.v}}', '.'],
  ])('%s with %j fails the render (CRM_ERR_RENDER) rather than change the saved path', (template, value) => {
    expect(check(template)).toBeNull();
    expect(renderOutcome(template, value)).toBe('CRM_ERR_RENDER');
  });

  it.each([
    ['https://example.com/a/.{{job.v}}/b', 'x', '/a/.x/b'],
    ['https://example.com/a/v{{job.v}}/b', '', '/a/v/b'],
    ['https://example.com/a/{{job.v}}/b', '...', '/a/.../b'],
    ['https://example.com/a/b?q={{job.v}}', '', '/a/b'],
    ['https://example.com/a/b#{{job.v}}', '..', '/a/b'],
    ['https://example.com/a/{{job.v}}/b', '%2e%2e', '/a/%252e%252e/b'],
    ['https://example.com/a/{{job.v}}/b', '\uFF0E\uFF0E', '/a/%EF%BC%8E%EF%BC%8E/b'],
    ['https://example.com/a/{{job.v}}/b', '\uFF0F', '/a/%EF%BC%8F/b'],
  ])('%s with %j keeps its segments: %s', (template, value, pathname) => {
    expect(new URL(renderOutcome(template, value)).pathname).toBe(pathname);
  });

  it('fails a value that is not well-formed Unicode with a typed render error naming the URL', () => {
    for (const value of ['\ud800', 'x\udc00', '\udfff\ud800']) {
      let caught: unknown;
      try {
        compileUrlTemplate('https://example.com/a/{{job.v}}?q={{job.v}}')({ job: { v: value } });
      } catch (error) {
        caught = error;
      }
      expect(isAutomationError(caught) && caught.code).toBe('CRM_ERR_RENDER');
      expect((caught as Error).message).toMatch(/webhook URL .*Unicode/);
    }
  });

  it('never lets a value remove, add or empty a path segment, wherever it sits in the segment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('', '.', '%2', '%2e', 'v'),
        fc.constantFrom('', '.', 'e', '%2e', 'x'),
        fc.oneof(fc.constantFrom('', '.', '..', 'e', '%2e', '.%2e', '/', '\\', '?', '#', '\uFF0E', '\u3002'), fc.string({ maxLength: 4 })),
        fc.constantFrom('', '?q=1', '#f', '/end'),
        (before, after, value, rest) => {
          const template = `https://example.com/api/${before}{{job.v}}${after}${rest}`;
          const rendered = renderOutcome(template, value);
          if (rendered === 'CRM_ERR_RENDER') return;
          const parsed = new URL(rendered);
          const segments = parsed.pathname.split('/');
          expect(parsed.host).toBe('example.com');
          expect(segments.slice(0, 2)).toEqual(['', 'api']);
          expect(segments).toHaveLength(rest === '/end' ? 4 : 3);
          expect(segments[2]).not.toBe('');
          expect(segments[2]).not.toMatch(/^(?:\.|%2e){1,2}$/i);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('allows dots inside a segment and anywhere in the query', () => {
    const render = compileUrlTemplate('https://example.com/files/v{{job.a}}/x?q={{job.b}}');
    expect(render({ job: { a: '..', b: '..' } })).toBe('https://example.com/files/v../x?q=..');
  });
});

describe('webhook headers', () => {
  it.each(['webhook-id', 'Webhook-Signature', 'expect', 'keep-alive', 'TE', 'trailer', 'host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'proxy-authorization'])(
    'refuses the reserved header %s with reserved_header on its path, at save time and in a rendered command',
    (name) => {
      const engine = createAutomationEngine({ store: createMemoryStore() });
      const result = engine.rules.validate({
        name: 'r',
        trigger: { eventName: 'e' },
        conditions: { all: [{ fact: 'a', operator: 'equal', value: 1 }] },
        actions: [{ type: 'webhook', params: { url: 'https://example.com/x', headers: { [name]: 'v' } } }],
      });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues).toEqual([{ path: `actions[0].params.headers[${JSON.stringify(name)}]`.replace(/\["([A-Za-z_$][\w$]*)"\]/, '.$1'), code: 'reserved_header', message: expect.any(String) as string }]);
      const command = webhookCommandSchema.safeParse({ url: 'https://example.com/x', headers: { [name]: 'v' } });
      expect(paramsIssues(command).map((i) => i.code)).toEqual(['reserved_header']);
    },
  );

  it('reports a bad rendered URL as invalid_url', () => {
    expect(paramsIssues(webhookCommandSchema.safeParse({ url: 'ftp://example.com/x' }))).toEqual([{ path: 'url', code: 'invalid_url', message: expect.any(String) as string }]);
  });
});
