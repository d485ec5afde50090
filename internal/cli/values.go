package cli

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/auth"
)

// This file holds the one syntax of the values flags take: durations
// ("90d", "2w", "36h"), byte sizes ("64MiB", "512KB", "1048576"), bounded
// numbers, and server URLs. Help shows defaults in the same form.

// durationValue is a flag taking repo.ParseDuration's forms: 90d, 2w, 1y,
// or anything time.ParseDuration reads (36h, 90s). Zero is refused.
type durationValue struct{ d *time.Duration }

// durationVar declares a duration flag with the default def.
func durationVar(f *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.Var(durationValue{p}, name, usage)
}

func (v durationValue) Type() string { return "duration" }

func (v durationValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	return formatDuration(*v.d)
}

func (v durationValue) Set(s string) error {
	d, err := repo.ParseDuration(s)
	if err == nil {
		*v.d = d
	}
	return err
}

// formatDuration writes d as durationValue reads it: "7d", "2w", "36h",
// "10s".
func formatDuration(d time.Duration) string {
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	switch {
	case d%week == 0 && d%(365*day) != 0:
		return fmt.Sprintf("%dw", d/week)
	case d%day == 0:
		return repo.FormatDuration(d)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// byteUnits are the units byte sizes may carry, longest first so that
// "MiB" is not read as "B".
var byteUnits = []struct {
	name string
	n    int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseByteSize reads a positive size: a plain number of bytes, or a
// number with one of byteUnits (case-insensitive): 64MiB, 512KB, 1GiB.
func parseByteSize(s string) (int64, error) {
	num, unit := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if len(num) > len(u.name) && strings.EqualFold(num[len(num)-len(u.name):], u.name) {
			num, unit = strings.TrimSpace(num[:len(num)-len(u.name)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("invalid size %q: want a positive number of bytes, optionally with a unit: 512KB, 64MiB, 1GiB", s)
	}
	return n * unit, nil
}

// formatByteSize writes n in the largest binary unit that divides it.
func formatByteSize(n int64) string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}

// byteSizeValue is a flag taking a byte size.
type byteSizeValue struct{ n *int64 }

// byteSizeVar declares a byte-size flag with the default def.
func byteSizeVar(f *pflag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	f.Var(byteSizeValue{p}, name, usage)
}

func (v byteSizeValue) Type() string { return "size" }

func (v byteSizeValue) String() string {
	if v.n == nil || *v.n == 0 {
		return ""
	}
	return formatByteSize(*v.n)
}

func (v byteSizeValue) Set(s string) error {
	n, err := parseByteSize(s)
	if err == nil {
		*v.n = n
	}
	return err
}

// intRangeValue is an integer flag that must lie in [min, max].
type intRangeValue struct {
	n        *int
	min, max int
}

// intRangeVar declares an integer flag with the default def that refuses
// values outside [min, max].
func intRangeVar(f *pflag.FlagSet, p *int, name string, def, min, max int, usage string) {
	*p = def
	f.Var(intRangeValue{p, min, max}, name, usage)
}

func (v intRangeValue) Type() string { return "int" }

func (v intRangeValue) String() string {
	if v.n == nil {
		return ""
	}
	return strconv.Itoa(*v.n)
}

func (v intRangeValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < v.min || n > v.max {
		if v.max == math.MaxInt {
			return fmt.Errorf("invalid value %q: want a whole number of at least %d", s, v.min)
		}
		return fmt.Errorf("invalid value %q: want a whole number from %d to %d", s, v.min, v.max)
	}
	*v.n = n
	return nil
}

// checkHTTPURL checks that s is an absolute http or https URL with a host.
// A value without a scheme, such as 127.0.0.1:4443, gets a hint.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	if !strings.Contains(s, "://") {
		return fmt.Errorf("%q is not an http:// or https:// URL (did you mean http://%s ?)", s, s)
	}
	return fmt.Errorf("%q is not an http:// or https:// URL", s)
}

// newServerClient returns a client of the metadata server at --server
// rawURL, with token (which may be empty). A bad URL is a usage error.
func newServerClient(rawURL, token string) (*apiclient.Client, error) {
	if err := checkHTTPURL(rawURL); err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	if token != "" && !auth.WellFormed(token) {
		return nil, usageErrorf("the token given (--token, RAMPART_TOKEN or --token-file) is not a Rampart token: want rpt_ followed by 43 base64url characters, as 'rampart token create' prints it")
	}
	c, err := apiclient.New(rawURL, token, nil)
	if err != nil {
		return nil, usageErrorf("--server: %s", strings.TrimPrefix(err.Error(), "apiclient: "))
	}
	return c, nil
}

// stringsValue is a repeatable string flag: each use adds its value
// (pflag's stringArray), or, with split, its comma-separated values, read
// as CSV (pflag's stringSlice); the first use replaces the default. It
// differs from pflag's own only in String, which does not render the
// values through a CSV writer: pflag's makes one, with a 4 KiB buffer, for
// each such flag as it is declared, in every process, whatever it runs.
type stringsValue struct {
	p       *[]string
	split   bool
	changed bool
}

// stringsVar declares a repeatable string flag (see stringsValue),
// without a default.
func stringsVar(f *pflag.FlagSet, p *[]string, name, shorthand string, split bool, usage string) {
	*p = nil
	f.VarP(&stringsValue{p: p, split: split}, name, shorthand, usage)
}

func (v *stringsValue) Type() string {
	if v.split {
		return "stringSlice"
	}
	return "stringArray"
}

// String is empty without values, so that help shows no default.
func (v *stringsValue) String() string {
	if len(*v.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*v.p, ",") + "]"
}

func (v *stringsValue) Set(s string) error {
	vals := []string{s}
	if v.split {
		var err error
		if vals, err = csv.NewReader(strings.NewReader(s)).Read(); err != nil {
			return err
		}
	}
	if !v.changed {
		*v.p = vals
	} else {
		*v.p = append(*v.p, vals...)
	}
	v.changed = true
	return nil
}
