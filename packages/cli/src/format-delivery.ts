import type { Delivery, DeliveryEvent } from '@crm-automation/core';

const iso = (date: Date) => date.toISOString();

function event(e: DeliveryEvent): string {
  return `  ${iso(e.at)}  ${e.state.padEnd(11)}  by ${e.source}${e.detail ? `  ${e.detail}` : ''}`;
}

/** One delivery and its events, oldest first, as an operator reads it next to the provider's console. */
export function formatDelivery(delivery: Delivery): string {
  const lines = [
    `delivery     ${delivery.id}`,
    `account      ${delivery.accountId}`,
    `state        ${delivery.state}`,
    `trigger      ${delivery.triggerId} (attempt ${delivery.attempt}, action [${delivery.actionIndex}])`,
    `rule         ${delivery.ruleId}`,
    `action       ${delivery.type} through ${delivery.provider}`,
    `recipient    ${delivery.recipient ?? '-'}`,
    `provider id  ${delivery.providerId ?? '-'}`,
    `key          ${delivery.idempotencyKey}${delivery.dedupes ? ' (the provider deduplicates by it)' : ''}`,
    `created      ${iso(delivery.createdAt)}`,
    `updated      ${iso(delivery.updatedAt)}`,
  ];
  if (delivery.error) lines.push(`error        ${delivery.error.code}: ${delivery.error.message}`);
  lines.push('', 'events');
  for (const e of delivery.events) lines.push(event(e));
  if (delivery.state === 'unknown') {
    lines.push(
      '',
      'It may have reached the provider: look it up in the provider\'s console by recipient and time, then',
      `  crm-automation deliveries resolve ${delivery.id} --account ${delivery.accountId} --as sent     (the provider has it)`,
      `  crm-automation deliveries resolve ${delivery.id} --account ${delivery.accountId} --as resend   (it does not: send it again, once)`,
    );
  }
  return lines.join('\n');
}
