package tracing

import (
	"context"
	"strings"
	"testing"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

var checked = []string{envSDKDisabled, envTracesExporter, envEndpoint, envTracesEndpoint, envProtocol,
	envTracesProtocol, envTracesSampler, envTracesSamplerAr, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}

// setEnv empties every variable Check reads, then sets kv (name, value, ...).
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, name := range checked {
		t.Setenv(name, "")
	}
	for i := 0; i < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func TestCheckDecidesWhetherToTrace(t *testing.T) {
	for _, tc := range []struct {
		env      []string
		enabled  bool
		endpoint string
	}{
		{nil, false, ""},
		{[]string{envEndpoint, "http://collector:4318"}, true, "http://collector:4318/v1/traces"},
		{[]string{envEndpoint, "http://collector:4318/"}, true, "http://collector:4318/v1/traces"},
		{[]string{envTracesEndpoint, "https://collector/custom"}, true, "https://collector/custom"},
		{[]string{envEndpoint, "http://a:4318", envTracesEndpoint, "http://b:4318/v1/traces"}, true, "http://b:4318/v1/traces"},
		{[]string{envTracesExporter, "otlp"}, true, "http://localhost:4318/v1/traces"},
		{[]string{envTracesExporter, "none", envEndpoint, "http://collector:4318"}, false, ""},
		{[]string{envSDKDisabled, "true", envEndpoint, "http://collector:4318"}, false, ""},
		{[]string{envSDKDisabled, "false", envEndpoint, "http://collector:4318"}, true, "http://collector:4318/v1/traces"},
		// Off, the variables of other services are none of our business.
		{[]string{envProtocol, "grpc", envTracesSampler, "jaeger_remote"}, false, ""},
		{[]string{envEndpoint, "http://collector:4318", envProtocol, "http/protobuf"}, true, "http://collector:4318/v1/traces"},
	} {
		setEnv(t, tc.env...)
		s, errs := Check()
		if len(errs) > 0 || s.Enabled != tc.enabled || s.Endpoint != tc.endpoint {
			t.Errorf("%v: %+v %v; want enabled %v, endpoint %q", tc.env, s, errs, tc.enabled, tc.endpoint)
		}
	}
}

func TestCheckReportsEveryBadVariable(t *testing.T) {
	setEnv(t, envEndpoint, "collector:4318", envTracesProtocol, "grpc", envTracesSampler, "sometimes",
		"OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign")
	_, errs := Check()
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		envEndpoint + ": must be an absolute http(s) URL",
		envTracesProtocol + ": must be http/protobuf",
		envTracesSampler + ": must be always_on",
		"OTEL_RESOURCE_ATTRIBUTES: must be key=value",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	if len(errs) != 4 {
		t.Errorf("%d errors, want 4:\n%s", len(errs), all)
	}

	setEnv(t, envTracesExporter, "zipkin", envSDKDisabled, "maybe")
	if _, errs := Check(); len(errs) != 2 {
		t.Errorf("exporter and disabled: %v", errs)
	}
	setEnv(t, envTracesExporter, "otlp", envTracesSampler, "traceidratio", envTracesSamplerAr, "1.5")
	if _, errs := Check(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), envTracesSamplerAr+": ") {
		t.Errorf("ratio: %v", errs)
	}
}

func TestResourceNamesTheService(t *testing.T) {
	get := func() map[string]string {
		t.Helper()
		res, err := Resource(context.Background(), "1.2.3")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, kv := range res.Attributes() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	setEnv(t)
	if m := get(); m[string(semconv.ServiceNameKey)] != "rowguard" || m[string(semconv.ServiceVersionKey)] != "1.2.3" || m["telemetry.sdk.language"] != "go" {
		t.Errorf("default: %v", m)
	}
	setEnv(t, "OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.environment.name=test")
	if m := get(); m[string(semconv.ServiceNameKey)] != "from-attrs" || m["deployment.environment.name"] != "test" {
		t.Errorf("OTEL_RESOURCE_ATTRIBUTES: %v", m)
	}
	setEnv(t, "OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs", "OTEL_SERVICE_NAME", "api-eu")
	if m := get(); m[string(semconv.ServiceNameKey)] != "api-eu" {
		t.Errorf("OTEL_SERVICE_NAME: %v", m)
	}
}
