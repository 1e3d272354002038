/**
 * The signed-in API key lives in sessionStorage: gone when the tab closes, never in a URL, a cookie
 * or localStorage.
 */
const KEY = 'crm-automation.apiKey';

export function loadApiKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveApiKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function clearApiKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage unavailable: nothing was kept.
  }
}
