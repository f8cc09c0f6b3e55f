package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// TestOnlyVariables are the ROWGUARD_* variables that only the tests (and tests/run)
// read: a developer's shell may hold them while it runs rowguard, so they are not
// unknown.
var TestOnlyVariables = []string{
	"ROWGUARD_TEST_DATABASE_URL", // internal/testdb: run the tests against a server of yours
	"ROWGUARD_SCRATCH_DIR",       // internal/pgcluster, tests/run: where throw-away clusters live
}

// retiredVariables are variables rowguard read once, with what replaced them.
var retiredVariables = map[string]string{
	"ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT": "ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT_ADDRESS (per email and client address)",
}

// load reads spec's variables, one field at a time, so that a value that does not parse
// is reported with every other problem rather than alone (envconfig.Process stops at
// the first). A variable that is unset or empty (`ROWGUARD_ADDR=` in an env file,
// `${X}` of an unset X in compose) takes its default, and so does one that does not
// parse: the checks that relate variables then see a sane value. The environment
// is only read, never changed.
func load(spec any) []error {
	var errs []error
	v := reflect.ValueOf(spec).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" || f.Tag.Get("ignored") == "true" {
			continue
		}
		value, err := readField(f, strings.TrimSpace(os.Getenv(name)) == "")
		if err != nil {
			errs = append(errs, describe(err))
			if value, err = readField(f, true); err != nil {
				panic(fmt.Sprintf("config: the default of %s: %v", name, err)) // a bad default tag
			}
		}
		v.Field(i).Set(value)
	}
	return errs
}

// readField reads one field through envconfig, as a one-field struct: from its variable,
// or, with useDefault, from its default tag (the variable is then renamed "=", which no
// environment can hold, and envconfig takes the default of an absent variable).
func readField(f reflect.StructField, useDefault bool) (reflect.Value, error) {
	if useDefault {
		f.Tag = reflect.StructTag(fmt.Sprintf(`envconfig:"=" default:%q`, f.Tag.Get("default")))
	}
	one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
	err := envconfig.Process("", one.Interface())
	return one.Elem().Field(0), err
}

// unknownVariables reports every ROWGUARD_* variable of the environment that rowguard
// does not read, most likely a misspelling (ROWGUARD_ADRR), naming the closest known one.
func unknownVariables() []error {
	known := map[string]bool{}
	var names []string
	for _, v := range Variables {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	for _, name := range TestOnlyVariables {
		known[name] = true
		names = append(names, name)
	}
	var unknown []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ROWGUARD_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	var errs []error
	for _, name := range unknown {
		if instead, ok := retiredVariables[name]; ok {
			errs = append(errs, fmt.Errorf("%s: no longer read; set %s instead", name, instead))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: unknown variable; did you mean %s?", name, closest(name, names)))
	}
	return errs
}

// closest returns the candidate nearest to name in edit distance (the first on a tie).
func closest(name string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and transpositions of two neighbours (ADRR/ADDR: 1, ADRD/ADDR: 1).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// describe rewrites envconfig's parse errors to name the variable, the value and the
// form it wants.
func describe(err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	want := pe.TypeName
	switch pe.TypeName {
	case "time.Duration":
		want = "a duration such as 30s, 15m or 1h"
	case "slog.Level":
		want = "debug, info, warn or error"
	case "bool":
		want = "true or false"
	case "config.RateLimit":
		want = "<max>/<window> such as 10/15m"
	case "config.ByteSize":
		want = "a size in bytes such as 1048576, 512KiB or 1MiB"
	case "int", "int64", "uint8", "uint16", "uint32", "uint64":
		want = "a whole number"
		if _, err := strconv.ParseInt(strings.TrimSpace(pe.Value), 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			// a number, out of the type's range
			bits, _ := strconv.Atoi(strings.TrimPrefix(pe.TypeName, "uint"))
			if strings.HasPrefix(pe.TypeName, "uint") && bits > 0 && bits < 64 {
				want = fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<bits-1)
			}
		}
	}
	return fmt.Errorf("%s: must be %s (got %q)", pe.KeyName, want, pe.Value)
}
