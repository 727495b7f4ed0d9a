/**
 * Script `endHold` (owner: BatchStore.endHold). A held batch's end: `release`
 * takes it back to `submitting` (its keys kept for good), `discard` deletes
 * it and its index entries.
 *
 * KEYS: 1 batch, 2 index, 3 by-sha, then the batch's other keys.
 * ARGV: 1 action (`release` or `discard`), 2 batch id.
 * Returns: 1; or the state it is in when not held; false when there is no such batch.
 */
import { LuaScript } from '../../core/lua.js';

export const END_HOLD = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state ~= 'held' then return state end
if ARGV[1] == 'release' then
  redis.call('HSET', KEYS[1], 'state', 'submitting')
  for i = 4, #KEYS do redis.call('PERSIST', KEYS[i]) end
  redis.call('PERSIST', KEYS[1])
  return 1
end
local field = (redis.call('HGET', KEYS[1], 'account') or '') .. ':' .. (redis.call('HGET', KEYS[1], 'sha256') or '')
if redis.call('HGET', KEYS[3], field) == ARGV[2] then redis.call('HDEL', KEYS[3], field) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`);
