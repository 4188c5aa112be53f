-- Argo CD health of a DynamoBackupRole (dynamobackup.io/v1alpha1), read from its conditions the way
-- kstatus (Flux, cli-utils) reads them, so that both say the same (docs/install.md, "Health"):
-- Progressing while the operator has not handled the current generation, or while Reconciling is
-- True (a transient AWS failure it retries on its own, such as throttling); Degraded when Stalled
-- or Ready is False (not compliant, or blocked until someone acts), with the reason and message;
-- Healthy when Ready is True; Progressing otherwise (no status yet, Ready Unknown or missing).
local hs = {status = "Progressing", message = "Waiting for the operator to report a status"}
if obj.status == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to handle generation " .. tostring(generation)
  return hs
end

local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end

local function explain(condition)
  local text = condition.message or ""
  if condition.reason ~= nil then
    text = condition.reason .. ": " .. text
  end
  return text
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = explain(reconciling)
  return hs
end

local ready = conditions["Ready"]
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = explain(stalled)
  return hs
end
if ready == nil then
  hs.message = "Waiting for the operator to report the Ready condition"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
end
hs.message = explain(ready)
return hs
