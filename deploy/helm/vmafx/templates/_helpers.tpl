{{/* The image every vmafx container runs. */}}
{{- define "vmafx.image" -}}
{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end -}}

{{/* Labels shared by every object of the release; pass (dict "root" $ "component" "…"). */}}
{{- define "vmafx.labels" -}}
app.kubernetes.io/name: {{ printf "vmafx-%s" .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The subset of the labels a workload selects its Pods by. */}}
{{- define "vmafx.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "vmafx-%s" .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The operator's name, used for its ServiceAccount, RBAC and Deployment. */}}
{{- define "vmafx.operatorName" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every operator object carries. */}}
{{- define "vmafx.operatorLabels" -}}
{{ include "vmafx.labels" (dict "root" . "component" "operator") }}
{{- end -}}

{{/* The controller's StatefulSet and Service name. */}}
{{- define "vmafx.controllerName" -}}
{{- printf "%s-controller" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The controller's gRPC address inside the cluster (nodes and the operator dial it). */}}
{{- define "vmafx.controllerGrpcAddr" -}}
{{ printf "http://%s.%s.svc.cluster.local:%d" (include "vmafx.controllerName" .) .Release.Namespace (int .Values.controller.grpcPort) }}
{{- end -}}

{{/* The controller's HTTP address inside the cluster. */}}
{{- define "vmafx.controllerHttpAddr" -}}
{{ printf "http://%s.%s.svc.cluster.local:%d" (include "vmafx.controllerName" .) .Release.Namespace (int .Values.controller.httpPort) }}
{{- end -}}

{{/* The extended resource a vendor's device plugin advertises; empty for cpu. */}}
{{- define "vmafx.gpuResource" -}}
{{- $resources := dict "nvidia" "nvidia.com/gpu" "amd" "amd.com/gpu" "intel" "gpu.intel.com/i915" "cpu" "" -}}
{{- if not (hasKey $resources .) -}}
{{- fail (printf "nodePools: vendor %q is not one of nvidia, amd, intel, cpu" .) -}}
{{- end -}}
{{- get $resources . -}}
{{- end -}}

{{/* Which of the seed chart's workloads renders: Deployment (the scoring service: the
     controller, its worker pools, and the operator when enabled), Job (one batch run) or
     StatefulSet (the MCP server over HTTP). */}}
{{- define "vmafx.workload" -}}
{{- if not (has .Values.workload (list "Deployment" "Job" "StatefulSet")) -}}
{{- fail (printf "workload: %q is not one of Deployment, Job, StatefulSet" .Values.workload) -}}
{{- end -}}
{{- .Values.workload -}}
{{- end -}}

{{/* VMAFX_BACKEND for a vendor: the compute backend `vmafx score` and `vmafx mcp` use. */}}
{{- define "vmafx.backendEnvValue" -}}
{{- $backends := dict "nvidia" "cuda" "amd" "hip" "intel" "sycl" "cpu" "cpu" -}}
{{- if not (hasKey $backends .) -}}
{{- fail (printf "gpu.vendor: %q is not one of nvidia, amd, intel, cpu" .) -}}
{{- end -}}
{{- get $backends . -}}
{{- end -}}

{{/* The scoring backends a worker of a vendor offers the scheduler (VMAFX_NODE_BACKENDS). */}}
{{- define "vmafx.backends" -}}
{{- $backends := dict "nvidia" "cpu,cuda,vulkan" "amd" "cpu,hip,vulkan" "intel" "cpu,sycl,vulkan" "cpu" "cpu" -}}
{{- get $backends . -}}
{{- end -}}

{{/* The ServiceAccount of the controller (it reviews tokens with the API server). */}}
{{- define "vmafx.controllerServiceAccount" -}}
{{- printf "%s-controller" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The ServiceAccount of the node pools' Pods; with auth.mode kubernetes its tokens carry the
     node role, each bound to its own Pod. */}}
{{- define "vmafx.nodeServiceAccount" -}}
{{- printf "%s-node" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Checks auth.mode and what it needs. */}}
{{- define "vmafx.authMode" -}}
{{- $mode := .Values.auth.mode -}}
{{- if not (has $mode (list "kubernetes" "tokenSecret" "insecure")) -}}
{{- fail (printf "auth.mode: %q is not one of kubernetes, tokenSecret, insecure" $mode) -}}
{{- end -}}
{{- if and (eq $mode "tokenSecret") (not .Values.auth.tokenSecret) -}}
{{- fail "auth.tokenSecret: auth.mode tokenSecret needs the name of a Secret holding tokens.csv" -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/* The path where a Pod's projected ServiceAccount token is mounted. */}}
{{- define "vmafx.serviceAccountTokenPath" -}}
/var/run/secrets/kubernetes.io/serviceaccount/token
{{- end -}}

{{/* Where a Job run pushes its metrics, as YAML: url (empty: nowhere) and, when the gateway
     needs credentials, secret {name, usernameKey, passwordKey}. pushgateway.url wins; else
     pushgateway.enabled means the chart's own gateway (charts/pushgateway) and its Secret. */}}
{{- define "vmafx.pushgatewayTarget" -}}
{{- $gw := .Values.pushgateway -}}
{{- if $gw.url -}}
url: {{ $gw.url | quote }}
{{- with $gw.basicAuthSecret }}
secret:
  name: {{ .name | quote }}
  usernameKey: {{ .usernameKey | default "username" | quote }}
  passwordKey: {{ .passwordKey | default "password" | quote }}
{{- end }}
{{- else if $gw.enabled -}}
{{- $own := dict "Release" .Release "Values" $gw -}}
url: {{ printf "http://%s.%s.svc.cluster.local:%d" (include "pushgateway.fullname" $own) .Release.Namespace (int ($gw.service).port) | quote }}
secret:
  name: {{ include "pushgateway.secretName" $own | quote }}
  usernameKey: username
  passwordKey: password
{{- else -}}
url: ""
{{- end -}}
{{- end -}}

{{/* A scoring container's resources: `resources` with the vendor's device added to the limits;
     pass (dict "resources" R "vendor" V) to keep a device count the values already give (else
     1), or add "count" N to set it. Renders YAML, for nindent. */}}
{{- define "vmafx.scoringResources" -}}
{{- $res := deepCopy (.resources | default dict) -}}
{{- $device := include "vmafx.gpuResource" .vendor -}}
{{- if $device -}}
{{- $limits := $res.limits | default dict -}}
{{- $count := hasKey . "count" | ternary .count (get $limits $device | default 1) -}}
{{- $_ := set $limits $device $count -}}
{{- $_ := set $res "limits" $limits -}}
{{- end -}}
{{- toYaml $res -}}
{{- end -}}
