package faketime

import (
	"testing"
	"time"
)

func TestNow(t *testing.T) {
	time.Local = time.UTC
	real := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		spec string
		want time.Time
	}{
		{"", real},
		{"@2030-01-02 03:04:05", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2030-01-02 03:04:05", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"+86400", real.Add(24 * time.Hour)},
		{"-120", real.Add(-2 * time.Minute)},
		{"+2d", real.Add(48 * time.Hour)},
		{"-3h", real.Add(-3 * time.Hour)},
		{"+10m", real.Add(10 * time.Minute)},
		{"+1y", real.Add(365 * 24 * time.Hour)},
		{"+1.5h", real.Add(90 * time.Minute)},
		{"+1d x2", real.Add(24 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := Now(tt.spec, real)
		if err != nil {
			t.Errorf("Now(%q): %v", tt.spec, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("Now(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
	for _, bad := range []string{"tomorrow", "+", "@2030-13-45 00:00:00", "+5w"} {
		if _, err := Now(bad, real); err == nil {
			t.Errorf("Now(%q) succeeded", bad)
		}
	}
}
