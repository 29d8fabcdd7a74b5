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
