/**
 * Script `transition` (owner: BatchStore.transition). Moves a batch to a state
 * if it is in one of the given ones. A batch that stops is finished: its data
 * expires after its retention.
 *
 * KEYS: 1 batch, 2 rows, 3 results.
 * ARGV: 1 from-states (comma list), 2 to-state, 3 field to stamp ('' for none), 4 now ISO, 5 stop code ('' for none),
 * 6 stop message, 7 now ms.
 * Returns: the state afterwards; false when there is no such batch.
 */
import { LuaScript } from '../../core/lua.js';
import { IS_STOPPED_LUA } from '../batch-states.js';
import { EXPIRE_BATCH_LUA } from './includes/expire-batch.js';

export const TRANSITION = new LuaScript(`${EXPIRE_BATCH_LUA}${IS_STOPPED_LUA}
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == state then
    redis.call('HSET', KEYS[1], 'state', ARGV[2])
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
    if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'stop_code', ARGV[5], 'stop_message', ARGV[6]) end
    if isStopped(ARGV[2]) then
      redis.call('HSETNX', KEYS[1], 'finished_at', ARGV[4])
      expireBatch(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[7]))
    end
    return ARGV[2]
  end
end
return state
`);
