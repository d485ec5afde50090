// Package progress shows the rampart CLI's progress on long operations:
// a [Bar] for byte counts (downloads, uploads) and [Steps] for work in
// steps with no size (generating and encrypting keys).
//
// A bar draws only when its writer is a terminal; on a pipe, a file or any
// other writer it does nothing, so command output stays clean in scripts and
// logs. Steps spin in place on a terminal and write one line per step
// anywhere else. Commands show progress on standard error, never standard
// output.
//
// A bar's counts are bytes:
//
//	bar := progress.New(cmd.ErrOrStderr(), size, "targets/app.tar.gz")
//	defer bar.Finish()
//	_, err := io.Copy(dst, bar.WrapReader(resp.Body))
//
// A Bar is safe for concurrent use, and a nil *Bar does nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// redrawInterval is the shortest time between two redraws.
const redrawInterval = 100 * time.Millisecond

// Bar is a progress bar. Create one with [New].
type Bar struct {
	mu       sync.Mutex
	w        io.Writer // nil when the bar does not draw
	width    func() int
	now      func() time.Time
	desc     string
	total    int64
	current  int64
	lastDraw time.Time
	drawn    bool // something was drawn since the last Finish
	finished bool
}

// New returns a bar that counts up to total bytes, labelled with
// description. It draws on w only when w is an *os.File open on a terminal;
// otherwise every method does nothing. A total of zero or less means the
// size is unknown: the bar then shows only the count.
func New(w io.Writer, total int64, description string) *Bar {
	f, ok := w.(*os.File)
	if !ok || f == nil || !term.IsTerminal(int(f.Fd())) {
		return &Bar{}
	}
	return newBar(w, total, description, func() int {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return 80
	})
}

// newBar returns a bar that always draws on w, width columns wide.
func newBar(w io.Writer, total int64, description string, width func() int) *Bar {
	return &Bar{w: w, width: width, now: time.Now, desc: description, total: total}
}

// Enabled reports whether the bar draws anything.
func (b *Bar) Enabled() bool { return b != nil && b.w != nil }

// Add counts n more bytes and redraws the bar if it is time to.
func (b *Bar) Add(n int64) {
	if !b.Enabled() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.current += n
	if b.current < 0 {
		b.current = 0
	}
	now := b.now()
	if b.drawn && now.Sub(b.lastDraw) < redrawInterval && (b.total <= 0 || b.current < b.total) {
		return
	}
	b.draw(now)
}

// Finish draws the bar one last time and ends its line. Later calls to Add
// and Finish do nothing.
func (b *Bar) Finish() {
	if !b.Enabled() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.draw(b.now())
	io.WriteString(b.w, "\n")
}

// WrapReader returns a reader that reads from r and counts what it reads.
// When the bar does not draw it returns r itself.
func (b *Bar) WrapReader(r io.Reader) io.Reader {
	if !b.Enabled() {
		return r
	}
	return &reader{r: r, b: b}
}

// WrapWriter returns a writer that writes to w and counts what it writes.
// When the bar does not draw it returns w itself.
func (b *Bar) WrapWriter(w io.Writer) io.Writer {
	if !b.Enabled() {
		return w
	}
	return &writer{w: w, b: b}
}

type reader struct {
	r io.Reader
	b *Bar
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.b.Add(int64(n))
	return n, err
}

type writer struct {
	w io.Writer
	b *Bar
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.b.Add(int64(n))
	return n, err
}

// draw writes the bar over the current line. b.mu is held.
func (b *Bar) draw(now time.Time) {
	b.lastDraw = now
	b.drawn = true
	// \r returns to the start of the line, \x1b[K clears what a longer
	// earlier line left behind.
	io.WriteString(b.w, "\r"+b.line(b.width())+"\x1b[K")
}

// line renders the bar to fit in cols columns.
func (b *Bar) line(cols int) string {
	var count string
	if b.total > 0 {
		pct := b.current * 100 / b.total
		if pct > 100 {
			pct = 100
		}
		count = fmt.Sprintf(" %3d%% %s/%s", pct, formatBytes(b.current), formatBytes(b.total))
	} else {
		count = " " + formatBytes(b.current)
	}

	// Leave the last column free: writing into it wraps on some terminals.
	room := cols - 1 - utf8.RuneCountInString(count)
	desc := truncate(b.desc, max(room/2, 0))

	if b.total <= 0 {
		return desc + count
	}
	barWidth := min(room-utf8.RuneCountInString(desc)-3, 40) // " [" and "]"
	if barWidth < 10 {
		return desc + count
	}
	filled := int(min(b.current, b.total) * int64(barWidth) / b.total)
	var sb strings.Builder
	sb.WriteString(desc)
	sb.WriteString(" [")
	sb.WriteString(strings.Repeat("=", filled))
	if filled < barWidth {
		sb.WriteString(">")
		sb.WriteString(strings.Repeat(" ", barWidth-filled-1))
	}
	sb.WriteString("]")
	sb.WriteString(count)
	return sb.String()
}

// truncate shortens s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// formatBytes writes n in binary units: 512 B, 1.5 KiB, 12.0 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
