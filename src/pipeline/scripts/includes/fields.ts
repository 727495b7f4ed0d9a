/**
 * Lua include: `fields(raw)` splits a value written by `joinFields` (compact.ts) into a table
 * (missing trailing fields are ''), `joinFields(t, n)` writes the first n back.
 */
export const FIELDS_LUA = `
local function fields(raw)
  if string.sub(raw, 1, 1) == '[' then return cjson.decode(raw) end
  local t = {}
  for f in string.gmatch(raw .. '\\31', '([^\\31]*)\\31') do t[#t + 1] = f end
  return t
end
local function joinFields(t, n)
  local out = {}
  local json = false
  for i = 1, n do
    out[i] = t[i] or ''
    if string.find(out[i], '\\31', 1, true) then json = true end
  end
  if json then return cjson.encode(out) end
  return table.concat(out, '\\31')
end
`;
