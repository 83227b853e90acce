{{/* The Pushgateway's Deployment, Service and claim name. */}}
{{- define "pushgateway.fullname" -}}
{{- printf "%s-pushgateway" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret holding the gateway's credentials and web config. */}}
{{- define "pushgateway.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-auth" (include "pushgateway.fullname" .)) -}}
{{- end -}}

{{/* Labels of every object of the gateway. */}}
{{- define "pushgateway.labels" -}}
{{ include "pushgateway.selectorLabels" . }}
app.kubernetes.io/component: pushgateway
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels the Deployment selects its Pod by. */}}
{{- define "pushgateway.selectorLabels" -}}
app.kubernetes.io/name: vmafx-pushgateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
