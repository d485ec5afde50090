// Package metrics counts what the server does and writes the counts in
// the Prometheus text exposition format (version 0.0.4) for /metrics.
//
// It holds only what the server uses: counters, counters by label values,
// and histograms with fixed buckets by label values. A general metrics
// library registers collectors, compiles expressions and builds protocol
// buffer descriptors at package init, which every process of the rampart
// binary pays for at start-up, a `repo add` as much as `serve`; nothing
// here runs before it is used.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metrics and writes them.
type Registry struct {
	mu       sync.Mutex
	families []family
}

// family is one metric name with its HELP and TYPE.
type family interface {
	name() string
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.families {
		if g.name() == f.name() {
			panic("metrics: " + f.name() + " registered twice")
		}
	}
	r.families = append(r.families, f)
}

// Counter registers and returns a counter without labels.
func (r *Registry) Counter(name, help string) *Counter {
	v := r.CounterVec(name, help)
	return v.WithLabelValues()
}

// CounterVec registers and returns counters by the values of labels.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	checkNames(name, labels)
	v := &CounterVec{vec: vec[*Counter]{meta: meta{n: name, help: help, labels: labels}, make: func() *Counter { return &Counter{} }}}
	r.add(v)
	return v
}

// HistogramVec registers and returns histograms by the values of labels,
// with the given upper bounds of buckets (ascending; +Inf is implied).
func (r *Registry) HistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	checkNames(name, labels)
	if !slices.IsSorted(buckets) || slices.Contains(labels, "le") {
		panic("metrics: histogram " + name + ": buckets not ascending, or a label named le")
	}
	b := slices.Clone(buckets)
	v := &HistogramVec{vec: vec[*Histogram]{meta: meta{n: name, help: help, labels: labels}, make: func() *Histogram {
		return &Histogram{bounds: b, counts: make([]atomic.Uint64, len(b))}
	}}}
	r.add(v)
	return v
}

// WriteTo writes every metric in the text exposition format, families
// sorted by name and series by label values.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name(), b.name()) })
	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, f := range fams {
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

// Handler serves the registry's metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteTo(w)
	})
}

// Counter is a count that only goes up.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// CounterVec is counters by label values.
type CounterVec struct{ vec[*Counter] }

func (v *CounterVec) write(w *bufio.Writer) {
	v.header(w, "counter")
	for _, s := range v.series() {
		w.WriteString(v.n)
		writeLabels(w, v.labels, s.values, "", "")
		w.WriteByte(' ')
		w.WriteString(strconv.FormatUint(s.m.Value(), 10))
		w.WriteByte('\n')
	}
}

// Histogram counts observations in buckets, with their sum.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // observations at most bounds[i] and above bounds[i-1]
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// Observe records one observation.
func (h *Histogram) Observe(v float64) {
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i].Add(1)
	}
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// HistogramVec is histograms by label values.
type HistogramVec struct{ vec[*Histogram] }

func (v *HistogramVec) write(w *bufio.Writer) {
	v.header(w, "histogram")
	for _, s := range v.series() {
		h := s.m
		count := h.count.Load() // read first: the buckets hold at least as many
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i].Load()
			writeSample(w, v.n+"_bucket", v.labels, s.values, formatFloat(b), strconv.FormatUint(min(cum, count), 10))
		}
		writeSample(w, v.n+"_bucket", v.labels, s.values, "+Inf", strconv.FormatUint(count, 10))
		writeSample(w, v.n+"_sum", v.labels, s.values, "", formatFloat(math.Float64frombits(h.sum.Load())))
		writeSample(w, v.n+"_count", v.labels, s.values, "", strconv.FormatUint(count, 10))
	}
}

func writeSample(w *bufio.Writer, name string, labels, values []string, le, value string) {
	w.WriteString(name)
	writeLabels(w, labels, values, "le", le)
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

// meta is a family's name, help and label names.
type meta struct {
	n, help string
	labels  []string
}

func (m *meta) name() string { return m.n }

func (m *meta) header(w *bufio.Writer, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.n, escapeHelp(m.help), m.n, typ)
}

// vec holds the series of a family by label values.
type vec[M any] struct {
	meta
	make func() M
	mu   sync.RWMutex
	m    map[string]series[M]
}

type series[M any] struct {
	values []string
	m      M
}

// WithLabelValues returns the series of the label values, in the order
// of the family's labels, making it on first use.
func (v *vec[M]) WithLabelValues(values ...string) M {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for %d labels", v.n, len(values), len(v.labels)))
	}
	k := strings.Join(values, "\xff")
	v.mu.RLock()
	s, ok := v.m[k]
	v.mu.RUnlock()
	if ok {
		return s.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.m[k]; ok {
		return s.m
	}
	if v.m == nil {
		v.m = map[string]series[M]{}
	}
	s = series[M]{values: slices.Clone(values), m: v.make()}
	v.m[k] = s
	return s.m
}

// series returns the series sorted by label values.
func (v *vec[M]) series() []series[M] {
	v.mu.RLock()
	out := make([]series[M], 0, len(v.m))
	for _, s := range v.m {
		out = append(out, s)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b series[M]) int { return slices.Compare(a.values, b.values) })
	return out
}

// writeLabels writes {a="x",b="y"} (with extra="extraValue" last when
// extraValue is set), or nothing without labels.
func writeLabels(w *bufio.Writer, labels, values []string, extra, extraValue string) {
	if len(labels) == 0 && extraValue == "" {
		return
	}
	w.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(l)
		w.WriteString(`="`)
		w.WriteString(escapeLabel(values[i]))
		w.WriteByte('"')
	}
	if extraValue != "" {
		if len(labels) > 0 {
			w.WriteByte(',')
		}
		w.WriteString(extra)
		w.WriteString(`="`)
		w.WriteString(extraValue)
		w.WriteByte('"')
	}
	w.WriteByte('}')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(f float64) string {
	if math.IsInf(f, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// checkNames panics on a metric or label name the format does not allow:
// the names are the server's own constants.
func checkNames(name string, labels []string) {
	for _, n := range append([]string{name}, labels...) {
		if !validName(n) {
			panic(fmt.Sprintf("metrics: invalid name %q", n))
		}
	}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
