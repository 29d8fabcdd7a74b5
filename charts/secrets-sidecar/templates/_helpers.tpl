{{/* The chart name, as a DNS label. */}}
{{- define "secrets-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The object name prefix. At most 52 characters, so that suffixes such as "-tls" or "-ca" keep every name within
a DNS label (63).
*/}}
{{- define "secrets-sidecar.fullname" -}}
{{- include "secrets-sidecar.checkNames" . -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "secrets-sidecar.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "secrets-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secrets-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "secrets-sidecar.labels" -}}
{{ include "secrets-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "secrets-sidecar.serviceAccountName" -}}
{{- default (include "secrets-sidecar.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/*
The serving certificate's Secret (tls.crt, tls.key, ca.crt). Each issuer has its own name: switching between
them never has helm adopt (or delete) a Secret cert-manager made, nor reuse cert-manager's as its own.
*/}}
{{- define "secrets-sidecar.tlsSecretName" -}}
{{- printf "%s-%s" (include "secrets-sidecar.fullname" .) (.Values.certificate.certManager.enabled | ternary "cert-manager-tls" "tls") -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is set; an empty tag means the chart's appVersion. */}}
{{- define "secrets-sidecar.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- /* toString first: `--set image.tag=2` gives the number 2, and 0 is not "empty". */ -}}
{{- $tag := toString .Values.image.tag -}}
{{- printf "%s:%s" .Values.image.repository (eq $tag "" | ternary .Chart.AppVersion $tag) -}}
{{- end -}}
{{- end -}}

{{/* The DNS names the API server may call the Service by. */}}
{{- define "secrets-sidecar.serviceDnsNames" -}}
{{- $svc := include "secrets-sidecar.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}

{{/* Security context for every container: PodSecurity "restricted", and a read-only root filesystem. */}}
{{- define "secrets-sidecar.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Cluster-scoped objects: the namespace in the name keeps two releases of the same name apart. */}}
{{- define "secrets-sidecar.clusterScopedName" -}}
{{- printf "%s-%s" .Release.Namespace (include "secrets-sidecar.fullname" .) -}}
{{- end -}}

{{/*
Refuses a namespace or name that cannot be a Service's name or sit in every object (helm itself does not check
--namespace), before any of it reaches YAML or a certificate.
*/}}
{{- define "secrets-sidecar.checkNames" -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" .Release.Namespace) -}}
{{- fail (printf "the namespace %q is not a DNS label (lower-case letters, digits and '-', at most 63 characters)" .Release.Namespace) -}}
{{- end -}}
{{- if and (not .Values.fullnameOverride) (not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .Release.Name)) -}}
{{- fail (printf "the release name %q cannot start a Service name (DNS-1035: a letter first, no dots): set fullnameOverride" .Release.Name) -}}
{{- end -}}
{{- end -}}

{{/*
A Kubernetes quantity ("100m", "64Mi", "1.5", "2G") in base units (cores, bytes), as a number in a string.
The schema has already held the value to these suffixes.
*/}}
{{- define "secrets-sidecar.quantityValue" -}}
{{- $text := include "secrets-sidecar.quantityText" . -}}
{{- $factors := dict "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "m" 0.001 -}}
{{- $number := $text -}}
{{- $factor := 1.0 -}}
{{- range $suffix, $value := $factors -}}
{{- if and (eq $number $text) (hasSuffix $suffix $text) -}}
{{- $number = trimSuffix $suffix $text -}}
{{- $factor = $value -}}
{{- end -}}
{{- end -}}
{{- mulf (float64 $number) $factor -}}
{{- end -}}

{{/*
The injected containers' resources, checked as the webhook checks them at start (a request or limit above its
max, a request above its limit): a webhook that refuses its config would crash-loop, and under failurePolicy
Fail annotated pods would be refused cluster-wide.
*/}}
{{- define "secrets-sidecar.checkInjectionResources" -}}
{{- $r := .Values.injection.resources -}}
{{- range $kind := list "cpu" "memory" -}}
{{- $title := title $kind -}}
{{- $max := index $r (printf "max%s" $title) -}}
{{- $request := index $r (printf "%sRequest" $kind) -}}
{{- $limit := index $r (printf "%sLimit" $kind) -}}
{{- $maxValue := include "secrets-sidecar.quantityValue" $max | float64 -}}
{{- range $name, $value := dict "Request" $request "Limit" $limit -}}
{{- if and $value (gt (include "secrets-sidecar.quantityValue" $value | float64) $maxValue) -}}
{{- fail (printf "injection.resources.%s%s (%s) is more than injection.resources.max%s (%s)" $kind $name (include "secrets-sidecar.quantityText" $value) $title (include "secrets-sidecar.quantityText" $max)) -}}
{{- end -}}
{{- end -}}
{{- if and $request $limit (gt (include "secrets-sidecar.quantityValue" $request | float64) (include "secrets-sidecar.quantityValue" $limit | float64)) -}}
{{- fail (printf "injection.resources.%sRequest (%s) is more than injection.resources.%sLimit (%s)" $kind (include "secrets-sidecar.quantityText" $request) $kind (include "secrets-sidecar.quantityText" $limit)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A quantity as text. Numbers from a values file arrive as float64 (134217728 would print as 1.34217728e+08);
the schema allows only whole numbers, so they print as integers.
*/}}
{{- define "secrets-sidecar.quantityText" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- printf "%d" (int64 .) -}}
{{- end -}}
{{- end -}}

{{/* A duration the schema holds to <whole number><ms|s|m|h>, in milliseconds. */}}
{{- define "secrets-sidecar.durationMs" -}}
{{- $factors := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 -}}
{{- mul (regexFind "^[0-9]+" .) (index $factors (regexReplaceAll "^[0-9]+" . "")) -}}
{{- end -}}

{{/* The webhook's bounds on its durations, checked at render rather than by a crash-looping webhook. */}}
{{- define "secrets-sidecar.checkDurations" -}}
{{- range $check := list (list "injection.kubernetesAuth.expiration" .Values.injection.kubernetesAuth.expiration 600000 172800000 "10m" "48h") (list "webhook.tlsReloadInterval" .Values.webhook.tlsReloadInterval 100 3600000 "100ms" "1h") -}}
{{- $ms := include "secrets-sidecar.durationMs" (index $check 1) | int64 -}}
{{- if or (lt $ms (index $check 2 | int64)) (gt $ms (index $check 3 | int64)) -}}
{{- fail (printf "%s (%s) must be from %s to %s" (index $check 0) (index $check 1) (index $check 4) (index $check 5)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
