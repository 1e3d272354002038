import type { SuppressionReason, SuppressionSource } from '@crm-automation/core';

/**
 * What the inbound routes need of a suppression list: `engine.suppressions` has these two methods
 * with these shapes, and so may a client of a service that keeps the list. Declared here (the two
 * methods, not core's whole `SuppressionAdmin`), so a route can write to any of them.
 */

/** Why a recipient is suppressed, as the contact policy's ledger keeps it (core's `SuppressionReason`). */
export type SuppressionLedgerReason = SuppressionReason;

/** What made a suppression change (core's `SuppressionSource`). */
export type SuppressionLedgerSource = SuppressionSource;

export interface SuppressionEntryInput {
  channel: string;
  recipient: string;
  reason: SuppressionLedgerReason;
  source: SuppressionLedgerSource;
  by?: string;
  detail?: string;
}

export interface SuppressionRemovalInput {
  reason?: SuppressionLedgerReason;
  source: SuppressionLedgerSource;
  by?: string;
  detail?: string;
}

export interface SuppressionWriter {
  add(accountId: string, entry: SuppressionEntryInput): Promise<unknown>;
  remove(accountId: string, channel: string, recipient: string, change: SuppressionRemovalInput): Promise<unknown>;
}

/**
 * Replies that opt out of texts: CTIA's standard keywords, plus REVOKE and OPTOUT, which Twilio also
 * honours by default (it blocks the number itself, so the list must agree with it).
 */
const OPT_OUT_KEYWORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
/** Replies that opt back in; START undoes a STOP. */
const OPT_IN_KEYWORDS = new Set(['START', 'YES', 'UNSTOP']);

/**
 * What an inbound text asks for: the whole body, trimmed and in any case, must be a keyword; a
 * sentence that merely contains one ("please don't stop") asks for nothing.
 */
export function smsKeywordIntent(body: string): 'opt-out' | 'opt-in' | undefined {
  const trimmed = body.trim();
  // ASCII letters only: Unicode case mapping would turn look-alikes ("ſtop") into keywords.
  if (!/^[A-Za-z]{1,16}$/.test(trimmed)) return undefined;
  const keyword = trimmed.toUpperCase();
  if (OPT_OUT_KEYWORDS.has(keyword)) return 'opt-out';
  if (OPT_IN_KEYWORDS.has(keyword)) return 'opt-in';
  return undefined;
}


/**
 * The `OptOutType` values of Twilio's Advanced Opt-Out and what each asks of the list. Twilio adds the
 * parameter when the body matched one of the account's opt-out, opt-in or help keywords, which may be
 * custom and in any language ("ARRET"), and it has acted on it already (blocked or unblocked the
 * sender), so the list follows it whatever the body says. HELP changes nothing.
 */
const OPT_OUT_TYPE_INTENTS: Readonly<Record<string, 'opt-out' | 'opt-in' | 'nothing'>> = { STOP: 'opt-out', START: 'opt-in', HELP: 'nothing' };

/** Whether `optOutType` is one Twilio documents (`STOP`, `START`, `HELP`, any case); another is ignored. */
export function isKnownOptOutType(optOutType: string): boolean {
  return Object.hasOwn(OPT_OUT_TYPE_INTENTS, optOutType.trim().toUpperCase());
}

/**
 * What an inbound Twilio text asks for: its `OptOutType` when Twilio sent one (not empty), else the
 * built-in keywords on its `Body` (an account without Advanced Opt-Out).
 */
export function twilioInboundIntent(params: { body?: string | undefined; optOutType?: string | undefined }): 'opt-out' | 'opt-in' | undefined {
  const optOutType = params.optOutType?.trim().toUpperCase() ?? '';
  if (optOutType === '') return smsKeywordIntent(params.body ?? '');
  const intent = Object.hasOwn(OPT_OUT_TYPE_INTENTS, optOutType) ? OPT_OUT_TYPE_INTENTS[optOutType] : undefined;
  return intent === 'nothing' ? undefined : intent;
}
