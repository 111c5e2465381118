-- wrk script: every request is a distinct `receive` command (fresh random UUID v4 commandId) on one of
-- 200 items, so the load exercises the real write path (marker, conditional commit, dispatch, projection).
-- Each wrk thread has its own Lua state: seed each differently, or every thread sends the same ids.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", os.time() * 1000 + counter)
end
function init(args)
  math.randomseed(seed)
end
local function uuid()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format(
    '{"commandId":"%s","type":"receive","location":"store-%d","sku":"pie-%d","quantity":1}',
    uuid(), math.random(1, 10), math.random(1, 20))
  return wrk.format(nil, "/api/commands", nil, body)
end
