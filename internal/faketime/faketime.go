// Package faketime reads the FAKETIME environment variable of libfaketime,
// which test harnesses use to move a program's clock. Go reads the clock
// without the C library, so libfaketime cannot affect it; programs that must
// honour such a harness take their reference time from Now instead.
package faketime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Now returns the current time as FAKETIME describes it when spec is not
// empty, and real is returned unchanged otherwise. Supported forms:
//
//	"@2030-01-02 03:04:05"  a start time (the clock runs on from it)
//	"2030-01-02 03:04:05"   a frozen time
//	"+86400", "-120"        an offset in seconds
//	"+2d", "-3h", "+10m", "+1y", "+30s"  an offset with a unit
//
// Absolute times are read in the local time zone, as libfaketime does. A
// trailing speed-up factor ("x2") is accepted and ignored: the programs
// this is for run for a moment.
func Now(spec string, real time.Time) (time.Time, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return real, nil
	}
	if i := strings.IndexAny(spec, "xi"); i > 0 && (spec[0] == '+' || spec[0] == '-') {
		spec = strings.TrimSpace(spec[:i])
	}
	switch spec[0] {
	case '+', '-':
		d, err := parseOffset(spec)
		if err != nil {
			return time.Time{}, err
		}
		return real.Add(d), nil
	case '@':
		spec = spec[1:]
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(spec), time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("FAKETIME %q: want \"@YYYY-MM-DD hh:mm:ss\", \"YYYY-MM-DD hh:mm:ss\" or an offset like \"+86400\" or \"-2d\"", spec)
}

func parseOffset(spec string) (time.Duration, error) {
	unit := time.Second
	num := spec
	switch spec[len(spec)-1] {
	case 's':
		num = spec[:len(spec)-1]
	case 'm':
		unit, num = time.Minute, spec[:len(spec)-1]
	case 'h':
		unit, num = time.Hour, spec[:len(spec)-1]
	case 'd':
		unit, num = 24*time.Hour, spec[:len(spec)-1]
	case 'y':
		unit, num = 365*24*time.Hour, spec[:len(spec)-1]
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || len(num) < 2 {
		return 0, fmt.Errorf("FAKETIME %q: not an offset like \"+86400\" or \"-2d\"", spec)
	}
	return time.Duration(n * float64(unit)), nil
}
