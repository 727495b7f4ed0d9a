/**
 * Lua include (owner: PaymentStatusStore, src/pipeline/payment-status/store.ts):
 * `indexPayment(metaKey, bucketKey, field, packed, record)` writes the
 * payment index's record of one payment id (see payment-status/encoding.ts)
 * unless it is there: HSETNX in its bucket; a field another invoice holds
 * (two ids sharing 62 bits) is kept whole in the meta hash under
 * `c:<packed id>`. Returns 1 when written. Needs FIELDS_LUA.
 *
 * Used where a ledger entry is written (scripts/finish-rows.ts), so that a
 * link is indexed in the same step as it is recorded, and by the store's
 * rebuild of the index from the ledger.
 */
export const INDEX_PAYMENT_LUA = `
local function indexPayment(metaKey, bucketKey, field, packed, record)
  if redis.call('HSETNX', bucketKey, field, record) == 1 then return 1 end
  local held = fields(redis.call('HGET', bucketKey, field))[1]
  if held ~= fields(record)[1] then return redis.call('HSETNX', metaKey, 'c:' .. packed, record) end
  return 0
end
`;
