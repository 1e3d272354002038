import { EventEmitter } from 'eventemitter3';
import type { EngineEvents } from './engine-api.js';

/**
 * The one channel through which the engine's parts report what they do (`engine.on(...)`): intake,
 * rule administration, the claim loop and dispatch all emit here; logs, metrics and tests listen.
 */
export type EngineObserver = EventEmitter<EngineEvents>;

export const createObserver = (): EngineObserver => new EventEmitter<EngineEvents>();
