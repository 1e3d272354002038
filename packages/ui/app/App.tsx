import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApiClient } from './api/client.js';
import { apiBase } from './config.js';
import { Link, useRoute, type Route } from './router.js';
import { ContactPolicy } from './screens/ContactPolicy.js';
import { RuleEditor } from './screens/RuleEditor.js';
import { RulesList } from './screens/RulesList.js';
import { Runs } from './screens/Runs.js';
import { SignIn } from './screens/SignIn.js';
import { Suppressions } from './screens/Suppressions.js';
import { clearApiKey, loadApiKey, saveApiKey } from './session.js';

const TITLES: Record<Route['name'], string> = {
  rules: 'Rules',
  'new-rule': 'New rule',
  'edit-rule': 'Edit rule',
  runs: 'Runs',
  'contact-policy': 'Contact policy',
  suppressions: 'Suppressions',
  'not-found': 'Not found',
};

export function App() {
  const base = apiBase();
  const [apiKey, setApiKey] = useState<string | null>(() => loadApiKey());
  const [signInNotice, setSignInNotice] = useState<string | undefined>(undefined);
  const [toast, setToast] = useState<string>('');
  const route = useRoute();
  const firstRender = useRef(true);

  const signOut = (notice?: string) => {
    clearApiKey();
    setApiKey(null);
    setSignInNotice(notice);
  };

  const api = useMemo(
    () => (apiKey ? createApiClient({ base, apiKey, onUnauthorized: () => signOut('Your API key is no longer accepted. Sign in again.') }) : null),
    [apiKey, base],
  );

  // After an in-app navigation, move focus to the new screen's heading, as a page load would.
  useEffect(() => {
    document.title = `${apiKey ? TITLES[route.name] : 'Sign in'} · Automation Builder`;
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
  }, [route, apiKey]);

  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(''), 6_000);
    return () => clearTimeout(timer);
  }, [toast]);

  if (!api) {
    return (
      <SignIn
        base={base}
        notice={signInNotice}
        onSignedIn={(key) => {
          saveApiKey(key);
          setSignInNotice(undefined);
          setApiKey(key);
        }}
      />
    );
  }

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link to="" class="brand">
          <span class="brand__mark" aria-hidden="true" />
          <span>Automation Builder</span>
        </Link>
        <nav aria-label="Main" class="topbar__nav">
          <Link to="" aria-current={route.name === 'rules' ? 'page' : undefined}>
            Rules
          </Link>
          <Link to="rules/new" aria-current={route.name === 'new-rule' ? 'page' : undefined}>
            New rule
          </Link>
          <Link to="contact-policy" aria-current={route.name === 'contact-policy' ? 'page' : undefined}>
            Contact policy
          </Link>
          <Link to="suppressions" aria-current={route.name === 'suppressions' ? 'page' : undefined}>
            Suppressions
          </Link>
        </nav>
        <button type="button" class="button button--quiet button--small topbar__signout" onClick={() => signOut('You are signed out.')}>
          Sign out
        </button>
      </header>
      <main id="main" class="main" tabIndex={-1}>
        <Screen route={route} api={api} announce={setToast} />
      </main>
      <div class={`toast${toast ? ' toast--shown' : ''}`} role="status" aria-live="polite">
        {toast}
      </div>
    </div>
  );
}

function Screen({ route, api, announce }: { route: Route; api: NonNullable<ReturnType<typeof createApiClient>>; announce: (m: string) => void }) {
  switch (route.name) {
    case 'rules':
      return <RulesList api={api} announce={announce} />;
    case 'new-rule':
      return <RuleEditor key="new" api={api} announce={announce} />;
    case 'edit-rule':
      return <RuleEditor key={route.id} api={api} ruleId={route.id} announce={announce} />;
    case 'runs':
      return <Runs key={route.id} api={api} ruleId={route.id} announce={announce} />;
    case 'contact-policy':
      return <ContactPolicy api={api} announce={announce} />;
    case 'suppressions':
      return <Suppressions api={api} announce={announce} />;
    case 'not-found':
      return (
        <div class="page">
          <h1 tabIndex={-1}>Page not found</h1>
          <p>
            There is nothing at <code>{route.path}</code>.
          </p>
          <Link to="" class="button button--secondary">
            Back to rules
          </Link>
        </div>
      );
  }
}
