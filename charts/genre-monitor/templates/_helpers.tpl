{{/*
Names and labels shared by every template. Other templates (including the
RBAC ones kept by the operator and webhook engineers) use only these.
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "genre-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (a DNS label). When the
release name already contains the chart name it is used alone.
*/}}
{{- define "genre-monitor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* name-version, as used by the helm.sh/chart label. */}}
{{- define "genre-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the release's pods; never change after install. */}}
{{- define "genre-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "genre-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Standard labels put on every object of the chart. */}}
{{- define "genre-monitor.labels" -}}
helm.sh/chart: {{ include "genre-monitor.chart" . }}
{{ include "genre-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: genre-monitor
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Per-component names, labels and selectors (component = operator | webhook). */}}
{{- define "genre-monitor.componentName" -}}
{{- printf "%s-%s" (include "genre-monitor.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "genre-monitor.componentLabels" -}}
{{ include "genre-monitor.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "genre-monitor.componentSelectorLabels" -}}
{{ include "genre-monitor.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Operator peering: "true" when replicas coordinate through a kopf peering object
(more than one replica, or asked for), else empty.
*/}}
{{- define "genre-monitor.operator.peering" -}}
{{- if or .Values.operator.peering.enabled (gt (int .Values.operator.replicas) 1) }}true{{ end }}
{{- end }}

{{/* The kopf peering object's name: ClusterKopfPeering, or KopfPeering per watched namespace. */}}
{{- define "genre-monitor.operator.peeringName" -}}
{{- default (include "genre-monitor.componentName" (dict "root" . "component" "operator")) .Values.operator.peering.name }}
{{- end }}

{{/* ServiceAccount names: the generated one, or the one named in values. */}}
{{- define "genre-monitor.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "genre-monitor.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "genre-monitor.webhook.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create }}
{{- default (include "genre-monitor.componentName" (dict "root" . "component" "webhook")) .Values.webhook.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.webhook.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The webhook's in-cluster Service name and the URL Alertmanager posts to. */}}
{{- define "genre-monitor.webhook.serviceName" -}}
{{- include "genre-monitor.componentName" (dict "root" . "component" "webhook") }}
{{- end }}

{{- define "genre-monitor.webhook.url" -}}
{{- /* /alerts is the webhook's receiving route (genre_monitor_webhook.server). */}}
{{- printf "http://%s.%s.svc:%d/alerts" (include "genre-monitor.webhook.serviceName" .) .Release.Namespace (int .Values.webhook.service.port) }}
{{- end }}

{{/* The Secret holding the webhook's bearer token, and the key inside it. */}}
{{- define "genre-monitor.webhook.tokenSecretName" -}}
{{- if .Values.webhook.token.existingSecret }}
{{- .Values.webhook.token.existingSecret }}
{{- else }}
{{- printf "%s-token" (include "genre-monitor.webhook.serviceName" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "genre-monitor.webhook.tokenSecretKey" -}}
{{- .Values.webhook.token.existingSecretKey | default "token" }}
{{- end }}

{{/*
Image reference: repository:tag, with @digest when one is given. The tag
defaults to the chart's appVersion.
*/}}
{{- define "genre-monitor.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion }}
{{- if .image.digest }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount token, mounted explicitly rather than by the automount so
only the containers that call the API get it, with a bounded lifetime; the
paths are those the Kubernetes clients read in-cluster.
*/}}
{{- define "genre-monitor.apiTokenVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end }}

{{- define "genre-monitor.apiTokenVolumeMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}

{{/* Annotations on dashboard ConfigMaps: the Grafana folder, when one is set. */}}
{{- define "genre-monitor.dashboardAnnotations" -}}
{{- with .Values.grafana.dashboards.folder }}
{{ $.Values.grafana.dashboards.folderAnnotation }}: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The ValidatingAdmissionPolicy and its binding (cluster-scoped: the release
name keeps two releases apart).
*/}}
{{- define "genre-monitor.admissionPolicyName" -}}
{{- include "genre-monitor.componentName" (dict "root" . "component" "monitor-rights") }}
{{- end }}
