{{/* The operator's name, used for its ServiceAccount, RBAC and Deployment. */}}
{{- define "vmafx.operatorName" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every operator object carries. */}}
{{- define "vmafx.operatorLabels" -}}
app.kubernetes.io/name: vmafx-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
