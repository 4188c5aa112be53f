{{/* Names: at most 63 characters, the limit of a label value and of most resource names. */}}
{{- define "dbr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dbr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dbr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Every value quoted: a release named `y`, `on` or `1` would otherwise be a YAML bool or number,
and a label value must be a string. */}}
{{- define "dbr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dbr.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "dbr.labels" -}}
helm.sh/chart: {{ include "dbr.chart" . | quote }}
{{ include "dbr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: dynamo-backup-role-operator
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end -}}

{{/* Cluster-scoped names carry the release namespace: releases in two namespaces must not share
them. RBAC names may be 253 characters long, so no truncation (which could make two collide). */}}
{{- define "dbr.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "dbr.fullname" .) -}}
{{- end -}}

{{- define "dbr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dbr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* A digest pins the exact image; otherwise the tag, by default the chart's appVersion. */}}
{{- define "dbr.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The operator's own permissions, the same cluster-wide (ClusterRole) or per namespace (Role).
kopf lists and watches DynamoBackupRoles and changes them only by PATCH: the finalizer and its
annotations on the object, the verdict on the status subresource. It never GETs a single object
(the watch delivers them), never creates, updates or deletes one, and posts Events through the
core v1 API with POST only (not events.k8s.io). Discovery (/api, /apis) needs no grant.
*/}}
{{- define "dbr.rules" -}}
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuproles"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuproles/status"]
  verbs: ["patch"]
# A DynamoBackupRoleSet's children: created, updated and deleted in the set's own namespace; the
# get tells a child of its own from another object of the same name.
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuproles"]
  verbs: ["get", "create", "delete"]
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuprolesets"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuprolesets/status"]
  verbs: ["patch"]
# Children carry an owner reference with blockOwnerDeletion, which the
# OwnerReferencesPermissionEnforcement admission plugin allows only to who may update the owner's
# finalizers.
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuprolesets/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/*
What kopf reads cluster-wide to follow the cluster (measured against a real API server, see
tests/e2e/test_chart_rbac.py): it watches CRDs to notice resources appear or change, and with
--namespace flags it lists and watches namespaces before it starts watching any of them. Refused,
kopf retries each request 9 times over about 55 s (logged as errors) and falls back; in namespaced
mode the operator handles nothing until then, after every start. Both are read-only and carry no
secrets. The operator's settings.scanning.disabled=True would make kopf skip them, and these rules
unnecessary.
*/}}
{{- define "dbr.observerRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- include "dbr.tenancyRules" . }}
{{- end -}}

{{/*
What account bindings need, cluster-wide in every mode: the operator indexes DynamoBackupAccounts
(cluster-scoped, owned by cluster admins; read-only here, so the operator can never widen one)
and the labels of namespaces (bindings select namespaces by label; kopf also lists namespaces in
namespaced mode).
*/}}
{{- define "dbr.tenancyRules" }}
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackupaccounts"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- if .Values.organizations.discovery }}
{{- include "dbr.discoveryRules" . }}
{{- end }}
{{- end -}}

{{/*
Discovery from AWS Organizations (organizations.discovery): the operator reads
DynamoBackupOrganizations and writes the bindings they produce. With these rules a compromised
operator could bind any namespace to any account; it already holds IAM write in those accounts,
which is why discovery is opt-in.
*/}}
{{- define "dbr.discoveryRules" }}
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackupaccounts"]
  verbs: ["create", "update"]
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuporganizations"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["dynamobackup.io"]
  resources: ["dynamobackuporganizations/status"]
  verbs: ["patch"]
{{- end -}}

{{/*
External IDs: `get` on Secrets of the configured names only. RBAC cannot select Secrets by label,
and list/watch cannot be limited by name, so the operator GETs each Secret by name at every
reconcile and may read no other Secret. Where: every namespace in cluster-wide mode (a
DynamoBackupRole's own Secret lives in its namespace), else the watched namespaces and the
release namespace (a DynamoBackupAccount's Secret lives in the operator's namespace).
*/}}
{{- define "dbr.secretRules" -}}
{{- with .Values.tenancy.externalIdSecretNames }}
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: {{ toJson . }}
  verbs: ["get"]
{{- end }}
{{- end -}}
