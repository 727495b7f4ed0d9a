/**
 * Script `finishRows` (owner: BatchStore.finishRows). Records the final
 * results of a group of rows of one batch, each once: the result, the batch
 * counters, the ledger entry of a created link and the release of the claim
 * (keeping any unknown outcomes for the invoice's next claim), in one atomic
 * step (a failed row that may have a link at Paywint, its result's head
 * marked, is counted `n_maybe_linked` too). A row recorded before changes nothing (its reply is 0), except that a
 * second link (two runs of one row at once, after a lost lock) is never
 * dropped: it goes to the ledger if the invoice has none there, and the
 * recorded row is flagged with both links.
 *
 * The rows that finish the batch (its last results) also record its finish
 * event in the same step, for the notifications to pick up; a stopped batch's
 * finish is recorded by {@link BatchStore.settleStopped}.
 *
 * A link written to the ledger is indexed in the same step (payment index, see
 * includes/index-payment.ts), and counted in the index's `indexed`.
 *
 * KEYS: 1 results, 2 batch, 3 ledger, 4 claims, 5 unsettled, 6 rows, 7 finish events, 8 payment index meta, then
 * the payment index buckets the rows name.
 * ARGV: 1 now ISO, 2 now ms; then per row 11: row, stored result (batch-codec.ts), status, invoice, claim owner
 * ('' when none), stored ledger entry ('' when none), amount cents, the link as the note about a second one shows
 * it ('' when none), the KEYS index of the link's index bucket ('' when none), its field there, its packed id.
 * Returns: per row, 1 when recorded now, 0 when it was recorded before.
 */
import { POSSIBLE_DUPLICATE_CODE } from '../../core/errors.js';
import { LuaScript } from '../../core/lua.js';
import { RESULT_FIELDS_LUA } from '../batch-codec.js';
import { IS_STOPPED_LUA } from '../batch-states.js';
import { LEDGER_ENTRY_FIELDS_LUA } from '../ledger.js';
import { EXPIRE_BATCH_LUA } from './includes/expire-batch.js';
import { FIELDS_LUA } from './includes/fields.js';
import { INDEX_PAYMENT_LUA } from './includes/index-payment.js';
import { RECORD_FINISH_LUA } from './includes/record-finish.js';
import { RELEASE_CLAIM_LUA } from './includes/release-claim.js';

export const FINISH_ROWS = new LuaScript(`${RELEASE_CLAIM_LUA}${FIELDS_LUA}${RESULT_FIELDS_LUA}${LEDGER_ENTRY_FIELDS_LUA}${EXPIRE_BATCH_LUA}${RECORD_FINISH_LUA}${IS_STOPPED_LUA}${INDEX_PAYMENT_LUA}
local out = {}
local added = 0
local claimed = false
-- The batch's counters, added up over the group and written once each.
local counts = {}
local function count(field, n) counts[field] = (counts[field] or 0) + n end
-- New ledger entries, all indexed now.
local newEntries = 0
local function indexLink(invoice, k, field, packed)
  if k ~= '' then indexPayment(KEYS[8], KEYS[tonumber(k)], field, packed, joinFields({invoice}, 1)) end
end
for i = 3, #ARGV, 11 do
  local row, result, status, invoice, owner, entry, cents, shown = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local linked = entry ~= ''
  if redis.call('HSETNX', KEYS[1], row, result) == 0 then
    local recorded = redis.call('HGET', KEYS[1], row)
    if linked then
      local r = fields(recorded)
      -- A payment id is packed the same way in both (compact.ts): the same link reads the same.
      if r[RESULT_PAYMENT_ID] ~= fields(entry)[ENTRY_PAYMENT_ID] then
        if redis.call('HSETNX', KEYS[3], invoice, entry) == 1 then
          newEntries = newEntries + 1
          indexLink(invoice, ARGV[i + 8], ARGV[i + 9], ARGV[i + 10])
        end
        local note = 'another run of this row also created link ' .. shown .. ': Paywint holds two links for this invoice; cancel one before mailing'
        local earlier = r[RESULT_ERROR_MESSAGE]
        if earlier and earlier ~= '' then note = earlier .. '; ' .. note end
        r[RESULT_ERROR_CODE] = '${POSSIBLE_DUPLICATE_CODE}'
        r[RESULT_ERROR_MESSAGE] = note
        redis.call('HSET', KEYS[1], row, joinFields(r, RESULT_FIELD_COUNT))
      end
    end
    if owner ~= '' then releaseClaim(KEYS[4], KEYS[5], invoice, owner, linked) end
    out[#out + 1] = 0
  else
    count('n_' .. status, 1)
    if status == 'failed' and resultMaybeLinked(fields(result)[1]) then count('n_maybe_linked', 1) end
    added = added + 1
    if linked then
      newEntries = newEntries + redis.call('HSET', KEYS[3], invoice, entry)
      indexLink(invoice, ARGV[i + 8], ARGV[i + 9], ARGV[i + 10])
    end
    if status == 'created' or status == 'exists' then count('cents_' .. status, tonumber(cents)) end
    if owner ~= '' then
      releaseClaim(KEYS[4], KEYS[5], invoice, owner, linked)
      claimed = true
    end
    out[#out + 1] = 1
  end
end
if newEntries > 0 then redis.call('HINCRBY', KEYS[8], 'indexed', newEntries) end
if added == 0 then return out end
for field, n in pairs(counts) do redis.call('HINCRBY', KEYS[2], field, string.format('%.0f', n)) end
local done = redis.call('HINCRBY', KEYS[2], 'done', added)
local state = redis.call('HGET', KEYS[2], 'state')
-- Only a fully submitted batch starts running: one still being submitted stays \`submitting\`, so a
-- submission that fails or dies half-way is still seen as such (and never resumed as if whole).
if claimed and state == 'queued' then
  redis.call('HSET', KEYS[2], 'state', 'running', 'started_at', ARGV[1])
  state = 'running'
end
if done >= tonumber(redis.call('HGET', KEYS[2], 'rows')) then
  if not isStopped(state) then
    local good = tonumber(redis.call('HGET', KEYS[2], 'n_created') or '0') + tonumber(redis.call('HGET', KEYS[2], 'n_exists') or '0')
    local final = 'completed_with_errors'
    if good == done then final = 'completed' end
    redis.call('HSET', KEYS[2], 'state', final)
    state = final
  end
  redis.call('HSET', KEYS[2], 'finished_at', ARGV[1])
  recordFinish(KEYS[2], KEYS[7], tonumber(ARGV[2]))
  if state ~= 'submitting' then expireBatch(KEYS[2], KEYS[6], KEYS[1], tonumber(ARGV[2])) end
else
  -- Rows recorded after the batch stopped expire with the rest.
  local at = redis.call('HGET', KEYS[2], 'expires_at_ms')
  if at then redis.call('PEXPIREAT', KEYS[1], at) end
end
return out
`);
