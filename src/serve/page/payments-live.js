// Payments as they arrive: one Server-Sent Events stream (`GET /api/payments/events`) while something on
// screen follows payments (the collection view, an invoice found). The stream only says "payments moved"
// (the account's counts by status); each follower then reads what it shows again, at a pace set by how long
// that read takes, so a big batch is not summed again every second.

import { api } from './api.js';

const followers = new Map(); // name → { refresh, onLive }
let stream = null; // AbortController
let retryTimer = null;
let lastData = null;
let connected = false;

/**
 * Calls `refresh()` (async) when payments move, while `name` follows; `onLive(connected)` hears when the
 * stream is up or down.
 */
export function follow(name, refresh, onLive = () => {}) {
  const existing = followers.get(name);
  if (existing) existing.stop();
  const follower = new Follower(refresh, onLive);
  followers.set(name, follower);
  onLive(connected);
  if (!stream && !retryTimer) connect();
}

export function unfollow(name) {
  followers.get(name)?.stop();
  followers.delete(name);
  if (followers.size === 0) {
    if (stream) stream.abort();
    stream = null;
    clearTimeout(retryTimer);
    retryTimer = null;
    lastData = null;
    connected = false;
  }
}

function setConnected(value) {
  connected = value;
  for (const f of followers.values()) f.onLive(value);
}

async function connect(delayMs = 2000) {
  retryTimer = null;
  const controller = new AbortController();
  stream = controller;
  try {
    const response = await api('/api/payments/events', { signal: controller.signal });
    setConnected(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(message);
        if (!/^event: payments$/m.test(message) || !data) continue;
        // The first message after (re)connecting is the state now: a change only if it differs from the last seen.
        if (lastData !== null && data[1] !== lastData) for (const f of followers.values()) f.changed();
        lastData = data[1];
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error.status === 401) return;
  }
  if (controller.signal.aborted || stream !== controller) return;
  // Cut (a restart, a proxy): say so, and connect again, waiting longer each time up to a minute.
  setConnected(false);
  stream = null;
  if (followers.size > 0) retryTimer = setTimeout(() => connect(Math.min(delayMs * 2, 60_000)), delayMs);
}

/** One follower's refreshes: never two at once, and after each a pause of three times its duration (at least a second). */
class Follower {
  constructor(refresh, onLive) {
    this.refresh = refresh;
    this.onLive = onLive;
    this.running = false;
    this.again = false;
    this.timer = null;
    this.stopped = false;
  }

  changed() {
    if (this.running || this.timer) {
      this.again = true;
      return;
    }
    this.run();
  }

  async run() {
    if (this.stopped) return;
    this.running = true;
    this.again = false;
    const started = performance.now();
    try {
      await this.refresh();
    } catch {
      // the follower shows its own errors
    }
    this.running = false;
    const pause = Math.max(1000, 3 * (performance.now() - started));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.again) this.run();
    }, pause);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
