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

{{- /*
  Namespaces. The grading Jobs run in a namespace of their own (default
  <release namespace>-sandbox): the grading service's Role exists there only, never
  beside z2jh's Secret `hub` and the students' pods, nor beside this chart's Secrets.
  z2jh's release defaults to ours.
*/}}
{{- define "dlcourse.sandbox.namespace" -}}
{{- .Values.sandbox.namespace | default (printf "%s-sandbox" .Release.Namespace) }}
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

{{- /*
  z2jh pod labels by component (hub, proxy, singleuser-server): the app.kubernetes.io
  labels z2jh 4 puts on its hub and proxy pods (its matchLabelsLegacyAndModern helper)
  and KubeSpawner 7 on the single-user pods (z2jh sets their name and instance). Not
  the legacy `app`, `release` and `component` labels, which z2jh plans to remove.
*/}}
{{- define "dlcourse.jupyterhub.podLabels" -}}
app.kubernetes.io/name: {{ .root.Values.jupyterhub.name }}
app.kubernetes.io/instance: {{ .root.Values.jupyterhub.release }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- /* Labels of the `helm test` Pod, which the grading service's policy admits. */}}
{{- define "dlcourse.helmTest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dlcourse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{- /*
  The Kubernetes API server's endpoints as a JSON list of CIDRs:
  networkPolicy.grader.kubeApiServer.cidrs, else one /32 (/128) per address of the
  `kubernetes` Service's EndpointSlices (or Endpoints) in namespace `default`, looked up
  at install and at every upgrade. Nothing to look up (helm template, --dry-run, lint)
  fails with the command that finds the addresses: the grading service's egress is
  never opened to every address.
*/}}
{{- define "dlcourse.kubeApiServer.cidrs" -}}
{{- $cidrs := .Values.networkPolicy.grader.kubeApiServer.cidrs | default list }}
{{- if not $cidrs }}
  {{- $slices := lookup "discovery.k8s.io/v1" "EndpointSlice" "default" "" | default dict }}
  {{- range ($slices.items | default list) }}
    {{- if eq (index (.metadata.labels | default dict) "kubernetes.io/service-name" | default "") "kubernetes" }}
      {{- range (.endpoints | default list) }}
        {{- range (.addresses | default list) }}
          {{- $cidrs = append $cidrs (printf "%s/%s" . (ternary "128" "32" (contains ":" .))) }}
        {{- end }}
      {{- end }}
    {{- end }}
  {{- end }}
  {{- if not $cidrs }}
    {{- $endpoints := lookup "v1" "Endpoints" "default" "kubernetes" | default dict }}
    {{- range ($endpoints.subsets | default list) }}
      {{- range (.addresses | default list) }}
        {{- $cidrs = append $cidrs (printf "%s/%s" .ip (ternary "128" "32" (contains ":" .ip))) }}
      {{- end }}
    {{- end }}
  {{- end }}
  {{- if not $cidrs }}
    {{- fail "networkPolicy.grader.kubeApiServer.cidrs is empty and no Kubernetes API server address could be looked up (helm template, --dry-run and lint cannot look up). Find the addresses with: kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses[*]}' and set networkPolicy.grader.kubeApiServer.cidrs to them as /32 (IPv6: /128), e.g. --set 'networkPolicy.grader.kubeApiServer.cidrs={10.0.0.1/32}' (see helm/README.md)" }}
  {{- end }}
{{- end }}
{{- $cidrs | uniq | sortAlpha | toJson }}
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
{{- if not (kindIs "invalid" .Values.jupyterhub.appLabel) }}
  {{- fail "jupyterhub.appLabel was removed in chart 0.2.0: the policies select z2jh's pods by their app.kubernetes.io labels; set jupyterhub.name (z2jh's nameOverride, default jupyterhub) instead" }}
{{- end }}
{{- $sandboxNs := include "dlcourse.sandbox.namespace" . }}
{{- if eq $sandboxNs (include "dlcourse.jupyterhub.namespace" .) }}
  {{- fail (printf "sandbox.namespace %s is z2jh's namespace: the grading service's Role (jobs, pods/attach) must never be where z2jh's Secret `hub` and the students' pods live; leave sandbox.namespace empty (%s-sandbox) or name another one" $sandboxNs .Release.Namespace) }}
{{- end }}
{{- if eq $sandboxNs .Release.Namespace }}
  {{- fail (printf "sandbox.namespace %s is this release's namespace: a Role that creates Jobs there could mount the grading service's own Secrets; leave sandbox.namespace empty (%s-sandbox) or name another one" $sandboxNs .Release.Namespace) }}
{{- end }}
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
