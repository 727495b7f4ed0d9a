/**
 * Script `stoppedFinish` (owner: FinishEvents.recordStopped). Records the
 * finish event of a stopped batch (cancelled or failed) whose rows are all
 * accounted for, once; nothing when it runs again meanwhile (a retry).
 *
 * KEYS: 1 batch, 2 finish events.
 * ARGV: 1 now ms.
 * Returns: 1 when the event was recorded now, else 0.
 */
import { LuaScript } from '../../core/lua.js';
import { IS_STOPPED_LUA } from '../batch-states.js';
import { RECORD_FINISH_LUA } from './includes/record-finish.js';

export const STOPPED_FINISH = new LuaScript(`${RECORD_FINISH_LUA}${IS_STOPPED_LUA}
local state = redis.call('HGET', KEYS[1], 'state')
if not isStopped(state) then return 0 end
return recordFinish(KEYS[1], KEYS[2], tonumber(ARGV[1]))
`);
