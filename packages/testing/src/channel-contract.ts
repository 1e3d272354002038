import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAutomationError, type ActionCommand, type ChannelGateway, type CommandMetadata } from '@crm-automation/core';

/** One delivery as the far side (a fake provider, an SMTP server, a webhook receiver) saw it. */
export interface ChannelDelivery {
  /** The recipient the far side got (phone number, address, URL), when the protocol names one. */
  recipient?: string | undefined;
  /** The command's idempotency key, when the protocol carries it. */
  idempotencyKey?: string | undefined;
  /** Anything else the receiver records. */
  [key: string]: unknown;
}

/** The far side of a gateway under test, which the suite can inspect and make fail. */
export interface ChannelReceiver {
  /** Deliveries that reached the far side, oldest first. */
  deliveries(): readonly ChannelDelivery[] | Promise<readonly ChannelDelivery[]>;
  /** The next delivery fails transiently (429/503, SMTP 451, ...), with Retry-After when given. */
  failNextTransient(retryAfterSeconds?: number): void;
  /** The next delivery fails permanently (400, 550, ...). */
  failNextPermanent(): void;
}

/** What the factory of {@link describeChannelContract} builds, fresh for every test. */
export interface ChannelContractSubject {
  gateway: ChannelGateway;
  receiver: ChannelReceiver;
  /** A command this gateway delivers: its action type and rendered params (the suite adds metadata). */
  command: { type: string; params: Record<string, unknown> };
  /** Params the gateway must refuse permanently without contacting the far side. */
  invalidParams?: readonly Record<string, unknown>[] | undefined;
  /** What the protocol can do; a missing capability is reported as a skipped test, never hidden. */
  capabilities?:
    | {
        /** The far side can say how long to wait (Retry-After). Default true. */
        retryAfter?: boolean | undefined;
        /** The protocol carries the idempotency key to the far side. Default true. */
        idempotencyKey?: boolean | undefined;
      }
    | undefined;
  /** Stops servers and closes connections. */
  close?: (() => Promise<void> | void) | undefined;
}

let sequence = 0;

function metadataFor(): CommandMetadata {
  sequence += 1;
  const triggerId = `trg_contract_${process.pid}_${sequence}`;
  return {
    source: 'automation-engine',
    ruleId: 'rule_contract',
    triggerId,
    accountId: 'acc_contract',
    actionIndex: 0,
    idempotencyKey: `${triggerId}:0`,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected the send to fail, but it succeeded');
}

/**
 * The behaviour every channel gateway shares: delivers, carries metadata, and classifies failures
 * the way core expects (`retryable: true` for transient ones, with `retryAfterMs`; anything else
 * permanent). Call it from a test file with a factory that builds a fresh gateway and receiver.
 *
 * @example
 * describeChannelContract('twilio', async () => {
 *   const provider = await startFakeTwilio();
 *   return { gateway: createTwilioSms({ ...creds, baseUrl: provider.url }), receiver: provider, command, close: provider.close };
 * });
 */
export function describeChannelContract(name: string, factory: () => ChannelContractSubject | Promise<ChannelContractSubject>): void {
  describe(`channel contract: ${name}`, () => {
    let subject: ChannelContractSubject;
    const commandFor = (params: Record<string, unknown> = subject.command.params): ActionCommand => ({
      type: subject.command.type,
      params,
      metadata: metadataFor(),
    });
    const capability = (key: 'retryAfter' | 'idempotencyKey') => subject?.capabilities?.[key] ?? true;

    beforeEach(async () => {
      subject = await factory();
    });
    afterEach(async () => {
      await subject?.close?.();
    });

    it('delivers a command once and resolves', async () => {
      const before = (await subject.receiver.deliveries()).length;
      await subject.gateway.send(commandFor());
      const after = await subject.receiver.deliveries();
      expect(after.length).toBe(before + 1);
      const recipient = subject.command.params['recipient'] ?? subject.command.params['url'];
      const delivered = after[after.length - 1];
      if (delivered?.recipient !== undefined) expect(delivered.recipient).toBe(recipient);
    });

    it('passes the command metadata (idempotency key) to the far side, or declares it cannot', async (ctx) => {
      if (!capability('idempotencyKey')) {
        ctx.skip(`${name} declares capabilities.idempotencyKey = false: its protocol cannot carry the key`);
      }
      const command = commandFor();
      await subject.gateway.send(command);
      const deliveries = await subject.receiver.deliveries();
      expect(deliveries[deliveries.length - 1]?.idempotencyKey).toBe(command.metadata.idempotencyKey);
    });

    it('reports a transient failure as retryable, with the wait the far side asked for', async () => {
      subject.receiver.failNextTransient(7);
      const error = await rejection(subject.gateway.send(commandFor()));
      expect(error['retryable']).toBe(true);
      if (capability('retryAfter')) expect(error['retryAfterMs']).toBe(7_000);
      expect(typeof error['message']).toBe('string');
    });

    it('delivers the same command again after a transient failure', async () => {
      subject.receiver.failNextTransient();
      const command = commandFor();
      await rejection(subject.gateway.send(command));
      const before = (await subject.receiver.deliveries()).length;
      await subject.gateway.send(command);
      expect((await subject.receiver.deliveries()).length).toBe(before + 1);
    });

    it('reports a permanent failure as not retryable, with a typed error', async () => {
      subject.receiver.failNextPermanent();
      const error = await rejection(subject.gateway.send(commandFor()));
      expect(error['retryable']).not.toBe(true);
      expect(isAutomationError(error)).toBe(true);
      expect(error['code']).toBe('CRM_ERR_GATEWAY');
    });

    it('refuses invalid params permanently without reaching the far side', async (ctx) => {
      const invalid = subject.invalidParams ?? [];
      if (invalid.length === 0) ctx.skip(`${name} declares no invalid params (it forwards params unchecked)`);
      const before = (await subject.receiver.deliveries()).length;
      for (const params of invalid) {
        const error = await rejection(subject.gateway.send(commandFor(params)));
        expect(error['retryable'], JSON.stringify(params)).not.toBe(true);
      }
      expect((await subject.receiver.deliveries()).length).toBe(before);
    });
  });
}
