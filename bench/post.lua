-- wrk script: POST the JSON file named after `--` on every request.
-- Usage: wrk -s bench/post.lua URL -- body.json
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
