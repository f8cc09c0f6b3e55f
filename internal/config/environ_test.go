package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lines are an error's lines ("" for none).
func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// A ROWGUARD_* variable rowguard does not read is an error naming the closest known one;
// the tests' own variables are not.
func TestUnknownVariableNamesTheClosest(t *testing.T) {
	for name, want := range map[string]string{
		"ROWGUARD_ADRR":                     "ROWGUARD_ADRR: unknown variable; did you mean ROWGUARD_ADDR?",
		"ROWGUARD_LOG_LEVL":                 "did you mean ROWGUARD_LOG_LEVEL?",
		"ROWGUARD_ACESS_TOKEN_TTL":          "did you mean ROWGUARD_ACCESS_TOKEN_TTL?",
		"ROWGUARD_MANAGMENT_ADDR":           "did you mean ROWGUARD_MANAGEMENT_ADDR?",
		"ROWGUARD_SMTP_POTR":                "did you mean ROWGUARD_SMTP_PORT?",
		"ROWGUARD_TEST_DATABASE":            "did you mean ROWGUARD_TEST_DATABASE_URL?",
		"ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT": "ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT: no longer read; set ROWGUARD_RATE_LIMIT_EMAIL_ACCOUNT_ADDRESS",
	} {
		clearEnv(t)
		t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
		t.Setenv(name, "127.0.0.1:8081")
		_, err := LoadServe()
		if got := lines(err); len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("%s: serve: %q\nwant one line containing %q", name, got, want)
		}
		_, err = LoadMigrate()
		if got := lines(err); len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("%s: migrate: %q\nwant one line containing %q", name, got, want)
		}
	}

	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	t.Setenv("ROWGUARD_ADRR", "") // set, even if empty
	if _, err := LoadServe(); err == nil {
		t.Error("an empty unknown variable is accepted")
	}

	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	for _, name := range TestOnlyVariables {
		t.Setenv(name, "/somewhere")
	}
	if _, err := LoadServe(); err != nil {
		t.Errorf("the tests' own variables: %v", err)
	}
	if _, err := LoadMigrate(); err != nil {
		t.Errorf("the tests' own variables: %v", err)
	}
}

// Every problem at once, one line each naming its variable, the value and the form it
// wants: unknown variables, values that do not parse, values out of bounds, a bad key.
func TestEveryProblemAtOnce(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv("ROWGUARD_DATA_DIR", dir)
	t.Setenv("ROWGUARD_ADRR", ":8080")
	t.Setenv("ROWGUARD_LOG_LEVEL", "loud")
	t.Setenv("ROWGUARD_REQUEST_TIMEOUT", "soon")
	t.Setenv("ROWGUARD_MAX_BODY_BYTES", "big")
	t.Setenv("ROWGUARD_PASSWORD_PARALLELISM", "300")
	t.Setenv("ROWGUARD_SMTP_PORT", "smtp")
	t.Setenv("ROWGUARD_OTP_SIGNUP", "yes")
	t.Setenv("ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT", "ten")
	t.Setenv("ROWGUARD_ACCESS_TOKEN_TTL", "1s")                   // parses, out of bounds
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY_FILE", "/nonexistent/key") // read with the rest
	_, err := LoadServe()
	want := []string{
		`ROWGUARD_ADRR: unknown variable; did you mean ROWGUARD_ADDR?`,
		`ROWGUARD_ACCESS_TOKEN_TTL: must be between 1m and 24h (got 1s)`,
		`ROWGUARD_MAX_BODY_BYTES: must be a size in bytes such as 1048576, 512KiB or 1MiB (got "big")`,
		`ROWGUARD_REQUEST_TIMEOUT: must be a duration such as 30s, 15m or 1h (got "soon")`,
		`ROWGUARD_LOG_LEVEL: must be debug, info, warn or error (got "loud")`,
		`ROWGUARD_SMTP_PORT: must be a whole number (got "smtp")`,
		`ROWGUARD_OTP_SIGNUP: must be true or false (got "yes")`,
		`ROWGUARD_RATE_LIMIT_LOGIN_ACCOUNT: must be <max>/<window> such as 10/15m (got "ten")`,
		`ROWGUARD_PASSWORD_PARALLELISM: must be a whole number from 0 to 255 (got "300")`,
		`ROWGUARD_JWT_PRIVATE_KEY_FILE: open /nonexistent/key: no such file or directory`,
	}
	got := lines(err)
	for _, w := range want {
		found := false
		for _, l := range got {
			found = found || l == w
		}
		if !found {
			t.Errorf("no line %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d lines, want %d (one per problem):\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a bad configuration wrote to the data directory: %v", entries)
	}

	// migrate: the same for the variables it reads.
	_, err = LoadMigrate()
	if got := lines(err); len(got) != 2 || !strings.HasPrefix(got[0], "ROWGUARD_ADRR: ") || !strings.HasPrefix(got[1], "ROWGUARD_LOG_LEVEL: ") {
		t.Errorf("migrate: %q", got)
	}
}

// A value that does not parse counts as its default for the checks relating variables:
// its own line, and no second one blaming a neighbour.
func TestUnparsableValueTakesItsDefault(t *testing.T) {
	clearEnv(t)
	t.Setenv("ROWGUARD_DATA_DIR", t.TempDir())
	t.Setenv("ROWGUARD_REQUEST_TIMEOUT", "10 seconds")
	t.Setenv("ROWGUARD_POOL_ACQUIRE_TIMEOUT", "5s") // within the default request timeout, 10s
	t.Setenv("ROWGUARD_SESSION_LIFETIME", "a month")
	t.Setenv("ROWGUARD_SESSION_IDLE_TIMEOUT", "700h") // within the default lifetime, 720h
	got := lines(func() error { _, err := LoadServe(); return err }())
	if len(got) != 2 || !strings.HasPrefix(got[0], "ROWGUARD_REQUEST_TIMEOUT: ") || !strings.HasPrefix(got[1], "ROWGUARD_SESSION_LIFETIME: ") {
		t.Errorf("%q", got)
	}
}

// Every variable the configuration structs read is documented, hence known: a new one
// left out of Variables would be refused as unknown.
func TestVariablesListEveryTag(t *testing.T) {
	documented := map[string]bool{}
	for _, v := range Variables {
		documented[v.Name] = true
	}
	for _, spec := range []any{ServeConfig{}, MigrateConfig{}} {
		typ := reflect.TypeOf(spec)
		for i := range typ.NumField() {
			if name := typ.Field(i).Tag.Get("envconfig"); name != "" && !documented[name] {
				t.Errorf("%s.%s reads %s, which is not in Variables", typ.Name(), typ.Field(i).Name, name)
			}
		}
	}
	for _, name := range TestOnlyVariables {
		if documented[name] {
			t.Errorf("%s is in Variables and in TestOnlyVariables", name)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"ADDR", "ADDR", 0}, {"ADRR", "ADDR", 1}, {"ADRD", "ADDR", 1}, {"ADR", "ADDR", 1},
		{"ADDRR", "ADDR", 1}, {"", "ADDR", 4}, {"LOG_LEVEL", "LEVEL", 4}, {"KITTEN", "SITTING", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// The development key is generated only for a configuration that is otherwise valid.
func TestNoDevelopmentKeyForABadConfiguration(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("ROWGUARD_DATA_DIR", dir)
	t.Setenv("ROWGUARD_LOG_LEVEL", "loud")
	if _, err := LoadServe(); err == nil {
		t.Fatal("accepted")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s exists after a refused start (%v)", dir, err)
	}
}
