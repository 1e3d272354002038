import { afterEach, beforeEach, expect } from 'vitest';
import { createSmtpEmail, type ClosableChannelGateway, type SmtpEmailOptions } from '@crm-automation/channels';
import { SMTP_PASS, SMTP_USER, startLocalSmtpServer, type LocalSmtpServer } from './local-smtp-server.js';

/*
 * The per-test lifecycle the gateway tests share: a fresh local provider for each test, closed after
 * it. `use` receives the provider so a test file keeps its own `let` binding for it.
 */

/** A fake provider API that records the requests it did not expect. */
interface FakeProvider {
  violations: readonly string[];
  close(): Promise<void>;
}

/** Starts a local server before each test and closes it after. */
export function serverPerTest<S extends { close(): Promise<void> }>(start: () => Promise<S>, use: (server: S) => void, beforeClose?: (server: S) => void): void {
  let current: S | undefined;
  beforeEach(async () => {
    current = await start();
    use(current);
  });
  afterEach(async () => {
    const server = current;
    current = undefined;
    if (!server) return;
    beforeClose?.(server);
    await server.close();
  });
}

/** Starts a fake provider before each test; after it, checks it saw no unexpected request and closes it. */
export function fakeProviderPerTest<F extends FakeProvider>(start: () => Promise<F>, use: (fake: F) => void): void {
  serverPerTest(start, use, (fake) => expect(fake.violations).toEqual([]));
}

/**
 * Starts a local SMTP server before each test and returns a factory of SMTP gateways logged in to it
 * (`extra` overrides the options); after the test, closes every gateway it made (they hold pooled
 * connections) and then the server.
 */
export function smtpServerPerTest(use: (server: LocalSmtpServer) => void): (extra?: Partial<SmtpEmailOptions>) => ClosableChannelGateway {
  let server: LocalSmtpServer | undefined;
  const gateways: ClosableChannelGateway[] = [];
  beforeEach(async () => {
    server = await startLocalSmtpServer();
    use(server);
  });
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await server?.close();
    server = undefined;
  });
  return (extra = {}) => {
    if (!server) throw new Error('an SMTP gateway is made inside a test, once the server is up');
    const gateway = createSmtpEmail({ host: '127.0.0.1', port: server.port, secure: false, auth: { user: SMTP_USER, pass: SMTP_PASS }, from: 'crm@crm.example', timeoutMs: 5_000, ...extra });
    gateways.push(gateway);
    return gateway;
  };
}
