import { describeBusContract } from '@crm-automation/testing';
import { createMemoryBus } from '@crm-automation/core';

describeBusContract('memory bus', ({ maxAttempts, retryDelayMs }) => {
  const bus = createMemoryBus({ maxAttempts, retryDelayMs });
  return { bus, publishRaw: (text) => bus.publishRaw(text) };
});
