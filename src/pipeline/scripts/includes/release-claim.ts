/**
 * Lua include: the invoice's entry in the unsettled hash (requests whose outcome is unknown, left by claims
 * released without a link): `readUnsettled(unsettledKey, invoice)` returns the count of unknown outcomes and the
 * count a person accepted (`retry --include-unknown`: the invoice may be sent while its count is no higher);
 * stored as `<unknown>` or `<unknown>:<accepted>`.
 */
export const UNSETTLED_LUA = `
local function readUnsettled(unsettledKey, invoice)
  local raw = redis.call('HGET', unsettledKey, invoice)
  if not raw then return 0, 0 end
  local u, a = string.match(raw, '^(%d+):?(%d*)$')
  return tonumber(u) or 0, tonumber(a) or 0
end
local function writeUnsettled(unsettledKey, invoice, unknown, accepted)
  local v = string.format('%d', unknown)
  if accepted > 0 then v = v .. ':' .. string.format('%d', accepted) end
  redis.call('HSET', unsettledKey, invoice, v)
end
`;

/**
 * Lua include: releaseClaim(claimsKey, unsettledKey, invoice, owner, linked) releases the claim on an invoice held by
 * owner. When no link was recorded for it and some request's outcome is unknown, that count (and the count a
 * person accepted) is kept under unsettledKey for the next claim (which starts from it: its link is flagged, and
 * the invoice is sent no more once the count is over PAYLINKS_UNKNOWN_OUTCOME_RETRIES); a recorded link clears it.
 * Returns the claim's unknown outcomes (0 when it held none, or no claim was released).
 */
export const RELEASE_CLAIM_LUA = `${UNSETTLED_LUA}
local function releaseClaim(claimsKey, unsettledKey, invoice, owner, linked)
  local raw = redis.call('HGET', claimsKey, invoice)
  if not raw then return 0 end
  local c = cjson.decode(raw)
  if c.owner ~= owner then return 0 end
  redis.call('HDEL', claimsKey, invoice)
  local unknown = c.unknown + c.inFlight
  if linked or unknown == 0 then
    -- A claim's unknown count starts from the invoice's entry there: none to remove when it is 0.
    if c.unknown > 0 then redis.call('HDEL', unsettledKey, invoice) end
  else writeUnsettled(unsettledKey, invoice, unknown, c.accepted or 0) end
  return unknown
end
`;
