const TEMPLATE = /\{\{[^}]*\}\}/g;

export interface UrlProblem {
  code: string;
  message: string;
}

/**
 * Save-time check of a webhook URL. Templates may appear in the path and query, never in the scheme,
 * credentials or host, so the destination is fixed when the rule is saved.
 */
export function checkWebhookUrl(raw: string, extra?: ((url: URL) => string | null) | undefined): UrlProblem | null {
  const markdown = /^\[([^\]]*)\]\(([^)]*)\)$/.exec(raw.trim());
  if (markdown) {
    return {
      code: 'invalid_url',
      message: `looks like a Markdown link; write the plain URL (${JSON.stringify(markdown[2] ?? markdown[1])})`,
    };
  }
  const probe = raw.replace(TEMPLATE, 'x');
  let url: URL;
  try {
    url = new URL(probe);
  } catch {
    return { code: 'invalid_url', message: 'must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { code: 'invalid_url', message: `scheme "${url.protocol.replace(':', '')}" is not allowed; use http or https` };
  }
  if (url.username || url.password) {
    return { code: 'invalid_url', message: 'credentials in the URL are not allowed; use headers' };
  }
  const authority = raw.slice(raw.indexOf('//') + 2).split(/[/?#]/)[0] ?? '';
  if (authority.includes('{{')) {
    return { code: 'invalid_url', message: 'templates are allowed in the path and query only, not in the host' };
  }
  const refused = extra?.(url);
  return refused ? { code: 'blocked_address', message: refused } : null;
}
