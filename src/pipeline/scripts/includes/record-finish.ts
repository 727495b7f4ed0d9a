/**
 * Lua include: `recordFinish(batchKey, eventsKey, nowMs)` records the batch's
 * finish event (`<batch>-f<n>`, n counting its finishes: a retried batch
 * finishes again), once per finish: the `finish_event` field says this finish
 * has its event, whichever process saw it first; taking rows back (a retry)
 * clears it. The event id's form is read back by {@link FinishEvents.pending}.
 */
export const RECORD_FINISH_LUA = `
local function recordFinish(batchKey, eventsKey, nowMs)
  if redis.call('HEXISTS', batchKey, 'finish_event') == 1 then return 0 end
  local n = redis.call('HINCRBY', batchKey, 'finishes', 1)
  redis.call('HSET', batchKey, 'finish_event', n)
  redis.call('ZADD', eventsKey, nowMs, redis.call('HGET', batchKey, 'id') .. '-f' .. n)
  return 1
end
`;
