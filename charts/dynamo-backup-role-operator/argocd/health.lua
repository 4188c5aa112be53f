-- Argo CD health of a DynamoBackupRole (dynamobackup.io/v1alpha1), read from its Ready condition.
-- Healthy: Ready=True for the current generation. Degraded: Ready=False (the role is not
-- compliant, or the operator cannot reconcile it), with the condition's reason and message.
-- Progressing: anything else - no status yet, a spec change the operator has not handled yet
-- (status.observedGeneration behind metadata.generation), or Ready Unknown or missing.
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

local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready == nil then
  hs.message = "Waiting for the operator to report the Ready condition"
  return hs
end

local explanation = ready.message or ""
if ready.reason ~= nil then
  explanation = ready.reason .. ": " .. explanation
end
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
end
hs.message = explanation
return hs
