{{- /*
  Helpers of the dlcourse chart: names, labels, selectors, Secret references and the
  checks that stop an install which cannot work. Templates live in one folder per
  component (grader/, sandbox/, singleuser/), like Zero to JupyterHub's.
*/}}

{{- /* The chart name, or nameOverride. */}}
{{- define "dlcourse.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /*
  Prefix of every resource name: fullnameOverride, else the release name when it
  already contains the chart name, else <release>-<chart>.
*/}}
{{- define "dlcourse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := include "dlcourse.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dlcourse.grader.fullname" -}}
{{- include "dlcourse.fullname" . }}-grader
{{- end }}

{{- define "dlcourse.sandbox.fullname" -}}
{{- include "dlcourse.fullname" . }}-sandbox
{{- end }}

{{- /* Labels on every object of this chart. */}}
{{- define "dlcourse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "dlcourse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dlcourse
{{- end }}

{{- /* Selector of the grading service pods (never changes between upgrades). */}}
{{- define "dlcourse.grader.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dlcourse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: grader
{{- end }}

{{- /*
  Labels of every grading pod. The Job runner sets exactly these
  (grader_service/runners/kubernetes.py SANDBOX_LABELS): change both together.
*/}}
{{- define "dlcourse.sandbox.selectorLabels" -}}
app.kubernetes.io/part-of: dlcourse
app.kubernetes.io/component: grading-sandbox
{{- end }}

{{- /* Namespaces: the grading Jobs' and the z2jh release's (both default to ours). */}}
{{- define "dlcourse.sandbox.namespace" -}}
{{- .Values.sandbox.namespace | default .Release.Namespace }}
{{- end }}

{{- define "dlcourse.jupyterhub.namespace" -}}
{{- .Values.jupyterhub.namespace | default .Release.Namespace }}
{{- end }}

{{- /* The hub API: jupyterhub.apiUrl, else z2jh's Service `hub` (in its namespace). */}}
{{- define "dlcourse.jupyterhub.apiUrl" -}}
{{- if .Values.jupyterhub.apiUrl }}
{{- .Values.jupyterhub.apiUrl }}
{{- else if ne (include "dlcourse.jupyterhub.namespace" .) .Release.Namespace }}
{{- printf "http://hub.%s.svc:%v/hub/api" (include "dlcourse.jupyterhub.namespace" .) .Values.jupyterhub.ports.hub }}
{{- else }}
{{- printf "http://hub:%v/hub/api" .Values.jupyterhub.ports.hub }}
{{- end }}
{{- end }}

{{- define "dlcourse.grader.serviceAccountName" -}}
{{- if .Values.grader.serviceAccount.create }}
{{- .Values.grader.serviceAccount.name | default (include "dlcourse.grader.fullname" .) }}
{{- else }}
{{- .Values.grader.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{- define "dlcourse.sandbox.serviceAccountName" -}}
{{- if .Values.sandbox.serviceAccount.create }}
{{- .Values.sandbox.serviceAccount.name | default (include "dlcourse.sandbox.fullname" .) }}
{{- else }}
{{- .Values.sandbox.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{- /*
  The Job runner's GRADER_K8S_SECCOMP_PROFILE: the Localhost profile path, or empty for
  RuntimeDefault.
*/}}
{{- define "dlcourse.sandbox.seccompProfile" -}}
{{- if eq .Values.sandbox.seccomp.type "Localhost" }}
{{- .Values.sandbox.seccomp.localhostProfile }}
{{- end }}
{{- end }}

{{- define "dlcourse.image" -}}
{{- printf "%s:%s" .name (toString .tag) }}
{{- end }}

{{- /*
  A NetworkPolicy peer for pods with labels .labels in namespace .namespace, seen from
  a policy in namespace .from: a bare podSelector when both are the same, else a
  podSelector combined with a namespaceSelector (one peer: pods in that namespace).
*/}}
{{- define "dlcourse.peer" -}}
- podSelector:
    matchLabels:
      {{- .labels | nindent 6 }}
  {{- if ne .namespace .from }}
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace }}
  {{- end }}
{{- end }}

{{- /* z2jh pod labels by component (hub, proxy, singleuser-server). */}}
{{- define "dlcourse.jupyterhub.podLabels" -}}
app: {{ .root.Values.jupyterhub.appLabel }}
release: {{ .root.Values.jupyterhub.release }}
component: {{ .component }}
{{- end }}

{{- /* Secret and key of the hub API token, the database URL and the signing key. */}}
{{- define "dlcourse.grader.secretName" -}}
{{- include "dlcourse.grader.fullname" . }}
{{- end }}

{{- define "dlcourse.grader.ownSecretNeeded" -}}
{{- if or .Values.grader.hubApiToken.value .Values.metrics.token.value (and .Values.grader.database.url (not .Values.grader.database.existingSecret)) }}true{{ end }}
{{- end }}

{{- /* Where the metrics bearer token lives: this chart's Secret or an existing one. */}}
{{- define "dlcourse.metricsToken.secretRef" -}}
{{- if .Values.metrics.token.value }}
name: {{ include "dlcourse.grader.secretName" . }}
key: metrics-token
{{- else }}
name: {{ .Values.metrics.token.existingSecret | required "metrics.token: set existingSecret (z2jh's Secret `hub`) or value" }}
key: {{ .Values.metrics.token.key | required "metrics.token.key is required with existingSecret" | quote }}
{{- end }}
{{- end }}

{{- define "dlcourse.hubApiToken.secretRef" -}}
{{- if .Values.grader.hubApiToken.value }}
name: {{ include "dlcourse.grader.secretName" . }}
key: hub-api-token
{{- else }}
name: {{ .Values.grader.hubApiToken.existingSecret | required "grader.hubApiToken: set existingSecret (z2jh's Secret `hub`) or value" }}
key: {{ .Values.grader.hubApiToken.key | required "grader.hubApiToken.key is required with existingSecret" | quote }}
{{- end }}
{{- end }}

{{- define "dlcourse.database.enabled" -}}
{{- if or .Values.grader.database.url .Values.grader.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "dlcourse.database.secretRef" -}}
{{- if .Values.grader.database.existingSecret }}
name: {{ .Values.grader.database.existingSecret }}
key: {{ .Values.grader.database.key | quote }}
{{- else }}
name: {{ include "dlcourse.grader.secretName" . }}
key: database-url
{{- end }}
{{- end }}

{{- define "dlcourse.signingKey.secretName" -}}
{{- .Values.grader.signingKey.existingSecret | default (printf "%s-signing-key" (include "dlcourse.grader.fullname" .)) }}
{{- end }}

{{- define "dlcourse.signingKey.key" -}}
{{- if .Values.grader.signingKey.existingSecret }}
{{- .Values.grader.signingKey.key }}
{{- else -}}
signing_key.pem
{{- end }}
{{- end }}

{{- /*
  Installs that cannot work fail here with a message saying what to change.
  Included once, from grader/deployment.yaml.
*/}}
{{- define "dlcourse.validate" -}}
{{- $token := .Values.grader.hubApiToken }}
{{- if and (not $token.value) (ne (include "dlcourse.jupyterhub.namespace" .) .Release.Namespace) (eq $token.existingSecret "hub") }}
  {{- fail (printf "z2jh's Secret `hub` is in namespace %s and a pod reads Secrets of its own namespace only: copy the token into a Secret in %s (grader.hubApiToken.existingSecret) or set grader.hubApiToken.value" (include "dlcourse.jupyterhub.namespace" .) .Release.Namespace) }}
{{- end }}
{{- $replicas := int .Values.grader.replicas }}
{{- if gt $replicas 1 }}
  {{- if not (include "dlcourse.database.enabled" .) }}
    {{- fail "grader.replicas > 1 needs PostgreSQL: set grader.database.url or grader.database.existingSecret (SQLite cannot be shared by several pods)" }}
  {{- end }}
  {{- if not .Values.grader.persistence.enabled }}
    {{- fail "grader.replicas > 1 needs grader.persistence.enabled: every replica reads the submission blobs in the shared data volume" }}
  {{- end }}
  {{- if and (not .Values.grader.persistence.existingClaim) (not (has "ReadWriteMany" .Values.grader.persistence.accessModes)) }}
    {{- fail "grader.replicas > 1 needs a shared data volume: set grader.persistence.accessModes to [ReadWriteMany] (or an existingClaim that is)" }}
  {{- end }}
{{- end }}
{{- end }}

{{- /*
  A value as an environment string: numbers without exponent or trailing .0
  (values arrive as float64), anything else as it is.
*/}}
{{- define "dlcourse.envValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}
