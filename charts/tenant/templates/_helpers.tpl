{{/*
Names, labels and the tier table of the tenant chart.
*/}}

{{/* The port every api container listens on (the Service, the probe and the NetworkPolicy use it). */}}
{{- define "tenant.apiPort" -}}8080{{- end }}

{{/* Does this tenant run workloads of its own (every model but pooled)? "true" or "". */}}
{{- define "tenant.dedicated" -}}
{{- if ne .Values.deploymentModel "pooled" }}true{{ end }}
{{- end }}

{{/* Labels selecting one component's pods (stable: never change them, Deployments' selectors are immutable). */}}
{{- define "tenant.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
app.kubernetes.io/component: {{ .component | quote }}
{{- end }}

{{/* Labels of every object: Helm's standard labels plus the tenant's. */}}
{{- define "tenant.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
onboarding.saas.aws/tenant-id: {{ .Values.tenantId | quote }}
onboarding.saas.aws/tier: {{ .Values.tier | quote }}
onboarding.saas.aws/deployment-model: {{ .Values.deploymentModel | quote }}
{{- end }}

{{/* Labels of one component's objects and pods. */}}
{{- define "tenant.componentLabels" -}}
{{ include "tenant.labels" .root }}
app.kubernetes.io/component: {{ .component | quote }}
{{- end }}

{{/* Annotations naming the tenant (and the release its images come from). */}}
{{- define "tenant.annotations" -}}
onboarding.saas.aws/tenant-name: {{ .Values.tenantName | toJson }}
{{- with .Values.release }}
onboarding.saas.aws/release: {{ . | quote }}
{{- end }}
{{- end }}

{{/* The ServiceAccount every tenant pod runs as (bound to the tenant's IAM role when it has AWS resources). */}}
{{- define "tenant.serviceAccountName" -}}tenant{{- end }}

{{/* Replicas of a workload: 0 while suspended. */}}
{{- define "tenant.replicas" -}}
{{- if .Values.suspended }}0{{ else }}{{ .Values.resources.replicas }}{{ end }}
{{- end }}

{{/* Name of the bundled database's Service (database.host when set, so the pipeline's value resolves). */}}
{{- define "tenant.databaseService" -}}
{{- .Values.database.host | default "postgresql" }}
{{- end }}

{{/*
An AWS name from the tenant id and a suffix, at most .max characters: when too long, the tenant id is
shortened and a hash of the full name keeps it unique.
*/}}
{{- define "tenant.awsName" -}}
{{- $full := printf "%s-%s" .tenantId .suffix }}
{{- if le (len $full) (int .max) }}{{ $full }}
{{- else }}{{ printf "%s-%s" (trunc (int (sub .max 13)) $full | trimSuffix "-") (sha256sum $full | trunc 12) }}
{{- end }}
{{- end }}

{{/* Pod placement: the nodeSelector and tolerations of the values (required for hybrid tenants). */}}
{{- define "tenant.placement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Hardened container security context (the restricted Pod Security Standard). */}}
{{- define "tenant.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The tier table: namespace quota, container limit range and bundled database size per tier.
Sized so the pipeline's tier profiles fit with a rolling update's surge (tests/chart checks it).
Containers set no CPU limit, so they get limits.default.cpu: it equals limits.max.cpu, so any request up to
the tier's maximum is admitted (a request above the implicit limit would be refused).
*/}}
{{- define "tenant.tiers" -}}
basic:
  quota:
    requests.cpu: "2"
    requests.memory: 4Gi
    limits.memory: 8Gi
    pods: "20"
    services: "5"
    persistentvolumeclaims: "2"
    requests.storage: 20Gi
  limits:
    max: {cpu: "1", memory: 2Gi}
    default: {cpu: "1", memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
  database:
    storage: 10Gi
    cpu: 250m
    memory: 512Mi
premium:
  quota:
    requests.cpu: "12"
    requests.memory: 24Gi
    limits.memory: 48Gi
    pods: "50"
    services: "10"
    persistentvolumeclaims: "4"
    requests.storage: 100Gi
  limits:
    max: {cpu: "4", memory: 8Gi}
    default: {cpu: "4", memory: 1Gi}
    defaultRequest: {cpu: 250m, memory: 256Mi}
  database:
    storage: 50Gi
    cpu: "1"
    memory: 2Gi
advanced:
  quota:
    requests.cpu: "40"
    requests.memory: 80Gi
    limits.memory: 160Gi
    pods: "200"
    services: "20"
    persistentvolumeclaims: "8"
    requests.storage: 500Gi
  limits:
    max: {cpu: "8", memory: 16Gi}
    default: {cpu: "8", memory: 4Gi}
    defaultRequest: {cpu: 500m, memory: 512Mi}
  database:
    storage: 200Gi
    cpu: "2"
    memory: 4Gi
{{- end }}

{{/* This tenant's row of the tier table, as a dict. */}}
{{- define "tenant.tier" -}}
{{- get (include "tenant.tiers" . | fromYaml) .Values.tier | toYaml }}
{{- end }}

{{/* Fail early on values the schema cannot check. */}}
{{- define "tenant.check" -}}
{{- range $name, $image := .Values.images }}
{{- if ne $image.image (printf "%s@%s" $image.repository $image.digest) }}
{{- fail (printf "images.%s.image must be repository@digest (%s@%s), got %s" $name $image.repository $image.digest $image.image) }}
{{- end }}
{{- end }}
{{- end }}
