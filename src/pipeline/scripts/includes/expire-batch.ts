/**
 * Lua include: `expireBatch(batchKey, rowsKey, resultsKey, nowMs)` stamps when
 * a finished or stopped batch's records and results go (its retention after
 * now) and sets their expiry; the batch hash stays, to say so.
 */
export const EXPIRE_BATCH_LUA = `
local function expireBatch(batchKey, rowsKey, resultsKey, nowMs)
  local retention = tonumber(redis.call('HGET', batchKey, 'retention_ms') or '')
  if not retention then return end
  local at = nowMs + retention
  redis.call('HSET', batchKey, 'expires_at_ms', string.format('%.0f', at))
  redis.call('PEXPIREAT', rowsKey, at)
  redis.call('PEXPIREAT', resultsKey, at)
end
`;
