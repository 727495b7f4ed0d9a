/**
 * Script `reopenRows` (owner: BatchStore.reopenRows). Takes failed rows'
 * results back so they can run again: the counters go down (`n_maybe_linked`
 * too, for rows that may have a link); a finished batch
 * is running again (ARGV 1 '1': also a stopped one, whose rows without a
 * result run again), and its data no longer expires.
 *
 * KEYS: 1 results, 2 batch, 3 rows.
 * ARGV: 1 resume a stopped batch ('1' or ''), then the rows.
 * Returns: the rows taken back.
 */
import { LuaScript } from '../../core/lua.js';
import { RESULT_FIELDS_LUA } from '../batch-codec.js';
import { FIELDS_LUA } from './includes/fields.js';

export const REOPEN_ROWS = new LuaScript(`${FIELDS_LUA}${RESULT_FIELDS_LUA}
local reopened = {}
local maybeLinked = 0
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local head = raw and fields(raw)[1]
  if head and string.sub(head, 1, 1) == 'f' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    reopened[#reopened + 1] = ARGV[i]
    if resultMaybeLinked(head) then maybeLinked = maybeLinked + 1 end
  end
end
if maybeLinked > 0 then redis.call('HINCRBY', KEYS[2], 'n_maybe_linked', -maybeLinked) end
if #reopened > 0 then
  redis.call('HINCRBY', KEYS[2], 'n_failed', -#reopened)
  redis.call('HINCRBY', KEYS[2], 'done', -#reopened)
  -- Not finished any more: its next finish gets an event of its own.
  redis.call('HDEL', KEYS[2], 'finish_event')
end
local state = redis.call('HGET', KEYS[2], 'state')
if (#reopened > 0 or ARGV[1] == '1') and (state == 'completed' or state == 'completed_with_errors' or state == 'failed') then
  redis.call('HSET', KEYS[2], 'state', 'running')
  redis.call('HDEL', KEYS[2], 'finished_at', 'stop_code', 'stop_message', 'stopped_at', 'expires_at_ms', 'finish_event')
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[3])
end
return reopened
`);
