import { describeSendThrottleContract } from '@crm-automation/testing';
import { createMemorySendThrottle, createMemoryStore } from '../src/entries/memory.js';

// A memory throttle's handles are one object, so the 3-handle case runs on one throttle.
describeSendThrottleContract('memory throttle', () => createMemorySendThrottle());
describeSendThrottleContract('memory store', () => createMemoryStore());
