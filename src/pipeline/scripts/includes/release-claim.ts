/**
 * Lua include: releaseClaim(claimsKey, unsettledKey, invoice, owner, linked) releases the claim on an invoice held by
 * owner. When no link was recorded for it and some request's outcome is unknown, that count is kept under
 * unsettledKey for the next claim (whose link is then flagged); a recorded link clears it.
 */
export const RELEASE_CLAIM_LUA = `
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
  else redis.call('HSET', unsettledKey, invoice, unknown) end
  return 1
end
`;
