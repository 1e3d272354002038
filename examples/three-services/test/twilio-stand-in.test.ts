import { verifyTwilioSignature } from '@crm-automation/http';
import { describe, expect, it } from 'vitest';
import { optOutTypeOf } from '../src/provider-stand-ins/twilio-replies.js';
import { twilioSignature } from '../src/provider-stand-ins/twilio-signature.js';

describe('the Twilio stand-in', () => {
  it('signs as the receipt routes verify: the exact URL and every parameter, sorted by name', () => {
    const url = 'http://127.0.0.1:4102/receipts/twilio/inbound';
    const form = new URLSearchParams({ MessageSid: 'SM1', From: '+15557654321', To: '+15550001111', Body: 'STOP', AccountSid: 'AC1' });
    const signature = twilioSignature('auth-token', url, form);
    expect(verifyTwilioSignature(['auth-token'], signature, url, [...form])).toBe(true);
    expect(verifyTwilioSignature(['another-token'], signature, url, [...form])).toBe(false);
    expect(verifyTwilioSignature(['auth-token'], signature, `${url}?d=1`, [...form])).toBe(false);
    expect(verifyTwilioSignature(['auth-token'], signature, url, [...form].map(([k, v]) => [k, k === 'Body' ? 'START' : v] as const))).toBe(false);
  });

  it('reads replies as Advanced Opt-Out does: the whole message is the keyword, in any case', () => {
    expect(['STOP', 'stop', ' Stop ', 'UNSUBSCRIBE', 'cancel', 'END', 'quit', 'STOPALL', 'REVOKE', 'OPTOUT'].map(optOutTypeOf)).toEqual(Array(10).fill('STOP'));
    expect(['START', 'yes', 'Unstop'].map(optOutTypeOf)).toEqual(['START', 'START', 'START']);
    expect(['HELP', 'info'].map(optOutTypeOf)).toEqual(['HELP', 'HELP']);
    expect(['please stop', 'STOP!', 'Thanks', ''].map(optOutTypeOf)).toEqual([null, null, null, null]);
  });
});
