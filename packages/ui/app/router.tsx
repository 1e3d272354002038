import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** The app's screens, parsed from the path below the app's base (`<base href>`). */
export type Route =
  | { name: 'rules' }
  | { name: 'new-rule' }
  | { name: 'edit-rule'; id: string }
  | { name: 'runs'; id: string }
  | { name: 'contact-policy' }
  | { name: 'suppressions' }
  | { name: 'not-found'; path: string };

function basePath(): string {
  return new URL(document.baseURI).pathname;
}

export function parseRoute(pathname: string): Route {
  const base = basePath();
  // `/ui` without its slash is the app's root too.
  if (`${pathname}/` === base) return { name: 'rules' };
  const rest = pathname.startsWith(base) ? pathname.slice(base.length) : pathname.replace(/^\//, '');
  const parts = rest.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { name: 'rules' };
  if (parts[0] === 'rules' && parts.length === 1) return { name: 'rules' };
  if (parts[0] === 'rules' && parts[1] === 'new' && parts.length === 2) return { name: 'new-rule' };
  if (parts[0] === 'rules' && parts[1] && parts.length === 2) return { name: 'edit-rule', id: parts[1] };
  if (parts[0] === 'rules' && parts[1] && parts[2] === 'runs' && parts.length === 3) return { name: 'runs', id: parts[1] };
  if (parts[0] === 'contact-policy' && parts.length === 1) return { name: 'contact-policy' };
  if (parts[0] === 'suppressions' && parts.length === 1) return { name: 'suppressions' };
  return { name: 'not-found', path: rest };
}

/** A path relative to the app's base: `rules/abc/runs`. */
export function href(path: string): string {
  return new URL(path, document.baseURI).pathname;
}

export function ruleHref(id: string): string {
  return `rules/${encodeURIComponent(id)}`;
}

export function runsHref(id: string): string {
  return `rules/${encodeURIComponent(id)}/runs`;
}

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = href(path);
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

interface AnchorProps {
  to: string;
  children?: ComponentChildren;
  class?: string | undefined;
  'aria-current'?: 'page' | undefined;
}

/** An in-app link: a real `<a href>` (open in a new tab works), navigated without a reload. */
export function Link({ to, children, class: className, 'aria-current': current }: AnchorProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={href(to)} onClick={onClick} class={className} aria-current={current}>
      {children}
    </a>
  );
}
