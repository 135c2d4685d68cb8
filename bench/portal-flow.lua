-- wrk script: citizens filing a defect report in the portal as a browser does, one after the other
-- on each connection (run wrk with as many threads as connections, so each thread's state is one
-- browser): the service's start page, "start", each step's page and its form, the check page,
-- "submit" and the confirmation page; every 303 is followed with a GET, cookies are kept, each
-- form carries the page's CSRF token and an Origin header. After the confirmation the browser
-- forgets its cookies and begins again.
--
--   wrk -t16 -c16 -d10s -s bench/portal-flow.lua http://127.0.0.1:PORT -- /panketal/maengelmelder
--
-- Prints a summary line "WRK {json}" with the completed reports ("flows") and unexpected answers.

local base
local origin
local cookies = {}
local next_method, next_path, next_body
local last_path

-- What the browser answers on each step (the defect report's steps; the photo step without file).
local answers = {
  mangel = "category=strasse&description=Tiefes+Schlagloch+vor+Nr.+12&action=continue",
  ort = "location_kind=address&street=Hauptstra%C3%9Fe+1&house_number=12&action=continue",
  foto = "action=continue",
  kontakt = "privacy_ack=true&action=continue",
}

-- Counters read by done() through thread:get, hence global.
flows = 0
errors = 0
per_flow = 0            -- requests of the last complete report
local in_flow = 0

local function begin()
  in_flow = 0
  cookies = {}
  next_method, next_path, next_body = "GET", base, nil
end

function init(args)
  base = args[1] or "/panketal/maengelmelder"
  origin = "http://" .. wrk.host .. ":" .. wrk.port
  begin()
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  in_flow = in_flow + 1
  last_path = next_path
  local headers = {}
  local jar = {}
  for k, v in pairs(cookies) do
    table.insert(jar, k .. "=" .. v)
  end
  if #jar > 0 then
    headers["Cookie"] = table.concat(jar, "; ")
  end
  if next_method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Origin"] = origin
  end
  return wrk.format(next_method, next_path, headers, next_body)
end

local function post(path, form, csrf)
  next_method, next_path = "POST", path
  next_body = (form == "" and "" or form .. "&") .. "csrf=" .. csrf
end

local function failed()
  errors = errors + 1
  begin()
end

function response(status, headers, body)
  local location
  for name, value in pairs(headers) do
    local lower = name:lower()
    if lower == "set-cookie" then
      local k, v = value:match("^([^=;]+)=([^;]*)")
      if k then
        if value:find("Max%-Age=0") then cookies[k] = nil else cookies[k] = v end
      end
    elseif lower == "location" then
      location = value
    end
  end
  if status == 303 and location then
    next_method, next_path, next_body = "GET", location, nil
    return
  end
  if status ~= 200 then
    return failed()
  end
  local csrf = body:match('name="csrf" value="([^"]+)"')
  local step = last_path:match("/schritt/([%w%-]+)$")
  if last_path == base and csrf then
    post(base .. "/start", "", csrf)
  elseif step and answers[step] and csrf then
    post(last_path, answers[step], csrf)
  elseif last_path == base .. "/pruefen" and csrf then
    post(base .. "/absenden", "", csrf)
  elseif last_path == base .. "/bestaetigung" then
    flows = flows + 1
    per_flow = in_flow
    begin()
  else
    failed()
  end
end

function done(summary, latency, requests)
  local f, e, per = 0, 0, 0
  for _, t in ipairs(threads) do
    f = f + (t:get("flows") or 0)
    e = e + (t:get("errors") or 0)
    per = math.max(per, t:get("per_flow") or 0)
  end
  local se = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"bad_status":%d,"socket_errors":%d,"timeouts":%d,'
      .. '"flows":%d,"flow_errors":%d,"requests_per_flow":%d}\n',
    summary.requests, summary.duration, se.status, se.connect + se.read + se.write, se.timeout,
    f, e, per))
end
