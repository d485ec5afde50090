package metrics

import (
	"bytes"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestExposition writes counters and histograms and reads them back with
// Prometheus's own parser of the text format: names, label values that need
// escaping, cumulative buckets, sums and counts.
func TestExposition(t *testing.T) {
	r := NewRegistry()
	hits := r.Counter("test_hits_total", "Hits.\nSecond line with a \\.")
	reqs := r.CounterVec("test_requests_total", "Requests by route and code.", "route", "code")
	dur := r.HistogramVec("test_duration_seconds", "Durations.", []float64{0.001, 0.01, 0.1}, "route")

	hits.Inc()
	hits.Inc()
	odd := "GET /a \"quoted\" \\ and\nnewline"
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reqs.WithLabelValues("GET /tuf/{rest...}", "200").Inc()
			reqs.WithLabelValues(odd, "404").Inc()
		}()
	}
	wg.Wait()
	for _, v := range []float64{0.0005, 0.001, 0.005, 0.05, 2} {
		dur.WithLabelValues("x").Observe(v)
	}

	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses the output: %v\n%s", err, buf.String())
	}
	if f := fams["test_hits_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 2 || f.GetHelp() != "Hits.\nSecond line with a \\." {
		t.Errorf("test_hits_total: %v", f)
	}
	got := map[string]float64{}
	for _, m := range fams["test_requests_total"].GetMetric() {
		var route, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "route":
				route = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		got[route+" "+code] = m.GetCounter().GetValue()
	}
	if got["GET /tuf/{rest...} 200"] != 50 || got[odd+" 404"] != 50 || len(got) != 2 {
		t.Errorf("test_requests_total: %v", got)
	}
	h := fams["test_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 0.0005+0.001+0.005+0.05+2 {
		t.Errorf("histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.001: 2, 0.01: 3, 0.1: 4, math.Inf(1): 5}
	for _, b := range h.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; !ok || b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if len(h.GetBucket()) != 4 {
		t.Errorf("%d buckets, want 4", len(h.GetBucket()))
	}

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || rec.Body.String() != buf.String() {
		t.Errorf("handler: %s\n%s", ct, rec.Body.String())
	}
}

// TestMisuse checks that the server's programming errors are caught: a
// name registered twice, an invalid name, the wrong number of label values.
func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"twice":        func() { r := NewRegistry(); r.Counter("a", ""); r.Counter("a", "") },
		"bad name":     func() { NewRegistry().Counter("a-b", "") },
		"label values": func() { NewRegistry().CounterVec("a", "", "x").WithLabelValues("1", "2") },
		"le label":     func() { NewRegistry().HistogramVec("h", "", []float64{1}, "le") },
		"unsorted":     func() { NewRegistry().HistogramVec("h", "", []float64{2, 1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
