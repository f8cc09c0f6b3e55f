// Package tracing sets up OpenTelemetry tracing from the standard OTEL_* environment:
// an SDK tracer provider exporting over OTLP/HTTP (protobuf), or nothing at all.
//
// Tracing is off unless the environment asks for it: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER=otlp (the
// exporter's default endpoint, http://localhost:4318). OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off whatever else is set. Everything else is read
// by the SDK and the exporter themselves, as the specification says: the endpoint,
// headers, timeout, compression and certificates (OTEL_EXPORTER_OTLP_[TRACES_]*), the
// sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG), the batch span processor
// (OTEL_BSP_*), the span limits (OTEL_SPAN_*) and the resource (OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES; the service name is rowguard unless they say otherwise).
//
// The OTEL_* variables are the specification's, not rowguard's: the strict
// configuration (unknown ROWGUARD_* variables are errors) does not apply to them. The
// ones that decide what is exported are checked at start with the rest of the
// configuration (Check), so a value the SDK would ignore with a warning (a misspelled
// sampler, a protocol this build cannot speak) stops the start instead.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// ServiceName is the service.name of rowguard's spans unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES name another.
const ServiceName = "rowguard"

// The variables Check reads.
const (
	envSDKDisabled     = "OTEL_SDK_DISABLED"
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envTracesSampler   = "OTEL_TRACES_SAMPLER"
	envTracesSamplerAr = "OTEL_TRACES_SAMPLER_ARG"
)

// Protocol is the one OTLP transport this build speaks (the specification's default).
const Protocol = "http/protobuf"

// Settings is what the environment asks for.
type Settings struct {
	// Enabled: export traces (NewProvider); false: no tracer at all.
	Enabled bool
	// Endpoint is where spans go, for the start-up log: the traces endpoint as
	// configured, the base endpoint with /v1/traces, or the exporter's default.
	Endpoint string
}

func getenv(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// Check reads the OTEL_* variables that decide whether and how traces are exported and
// reports every problem with them, each naming its variable. An empty variable counts
// as unset. The protocol, endpoint and sampler variables are checked only when tracing
// is on (an environment shared with other services may set them for those).
func Check() (Settings, []error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	disabled := false
	if v := getenv(envSDKDisabled); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			bad(envSDKDisabled, "must be true or false (got %q)", v)
		}
		disabled = b
	}
	exporter := strings.ToLower(getenv(envTracesExporter))
	switch exporter {
	case "", "otlp", "none":
	default:
		bad(envTracesExporter, "must be otlp or none: this build exports traces over OTLP only (got %q)", exporter)
	}
	endpoint, tracesEndpoint := getenv(envEndpoint), getenv(envTracesEndpoint)
	s := Settings{Enabled: !disabled && exporter != "none" &&
		(exporter == "otlp" || endpoint != "" || tracesEndpoint != "")}
	if !s.Enabled {
		return s, errs
	}

	protocolName, protocol := envProtocol, getenv(envProtocol)
	if p := getenv(envTracesProtocol); p != "" {
		protocolName, protocol = envTracesProtocol, p
	}
	if protocol != "" && protocol != Protocol {
		bad(protocolName, "must be %s: this build does not speak %q (point it at the collector's OTLP/HTTP port, 4318)", Protocol, protocol)
	}
	switch {
	case tracesEndpoint != "":
		if checkURL(bad, envTracesEndpoint, tracesEndpoint) {
			s.Endpoint = tracesEndpoint
		}
	case endpoint != "":
		if checkURL(bad, envEndpoint, endpoint) {
			s.Endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
		}
	default:
		s.Endpoint = "http://localhost:4318/v1/traces"
	}
	checkSampler(bad)
	if _, err := resource.New(context.Background(), resource.WithFromEnv()); err != nil {
		bad("OTEL_RESOURCE_ATTRIBUTES", "must be key=value pairs separated by commas, values percent-encoded: %v", err)
	}
	return s, errs
}

// checkURL reports a value that is not an absolute http(s) URL.
func checkURL(bad func(name, format string, args ...any), name, value string) bool {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(name, "must be an absolute http(s) URL such as http://otel-collector:4318 (got %q)", value)
		return false
	}
	return true
}

// checkSampler reports a sampler the SDK would ignore (it then samples every trace and
// only logs why): an unknown name, or a ratio that is no number from 0 to 1.
func checkSampler(bad func(name, format string, args ...any)) {
	sampler := strings.ToLower(getenv(envTracesSampler))
	switch sampler {
	case "", "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
	case "traceidratio", "parentbased_traceidratio":
		if arg := getenv(envTracesSamplerAr); arg != "" {
			if f, err := strconv.ParseFloat(arg, 64); err != nil || f < 0 || f > 1 {
				bad(envTracesSamplerAr, "must be a ratio from 0 to 1 such as 0.25 (got %q)", arg)
			}
		}
	default:
		bad(envTracesSampler, "must be always_on, always_off, traceidratio, parentbased_always_on, "+
			"parentbased_always_off or parentbased_traceidratio (got %q)", sampler)
	}
}

// NewProvider is the tracer provider the environment asks for (Check said Enabled):
// spans batched to the OTLP/HTTP exporter, with the sampler of OTEL_TRACES_SAMPLER
// (default: parentbased_always_on) and a resource naming this service and version.
// Shut it down at exit: that flushes the spans still queued.
func NewProvider(ctx context.Context, version string) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: %w", err)
	}
	res, err := Resource(ctx, version)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Resource describes this process: the SDK's own attributes, service.name rowguard and
// service.version, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, which win.
func Resource(ctx context.Context, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(ServiceName), semconv.ServiceVersion(version)),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return res, nil
}
