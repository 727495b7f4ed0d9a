// Talking to the paylinks API: the token (kept in this tab's sessionStorage) and one fetch wrapper.

const TOKEN_KEY = 'paylinks.token';

export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.found = body.found;
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

let onUnauthorized = () => {};
/** What to do when the server refuses the token (sign out). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export async function api(path, init = {}) {
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${token()}` };
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    if (init.signal && init.signal.aborted) throw error;
    throw new ApiError(0, 'NETWORK', 'paylinks cannot be reached. Check your connection and try again.');
  }
  if (response.ok) return response;
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status only
  }
  if (response.status === 401) onUnauthorized('Your token was not accepted. Sign in again.');
  throw new ApiError(response.status, body.code || `HTTP_${response.status}`, body.message || `The server answered ${response.status}.`, body);
}

export const getJson = async (path, init) => (await api(path, init)).json();
export const batchPath = (id, rest = '') => `/api/batches/${encodeURIComponent(id)}${rest}`;
