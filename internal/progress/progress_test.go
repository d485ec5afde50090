package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotATerminalDoesNothing(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	var buf bytes.Buffer
	writers := map[string]io.Writer{"buffer": &buf, "pipe": pw, "file": file, "nil": nil}
	for name, w := range writers {
		t.Run(name, func(t *testing.T) {
			bar := New(w, 10, "download")
			if bar.Enabled() {
				t.Fatal("bar is enabled on a writer that is no terminal")
			}
			bar.Add(4)

			src := strings.NewReader("hello")
			if r := bar.WrapReader(src); r != io.Reader(src) {
				t.Error("WrapReader did not return its reader unchanged")
			}
			var dst bytes.Buffer
			if got := bar.WrapWriter(&dst); got != io.Writer(&dst) {
				t.Error("WrapWriter did not return its writer unchanged")
			}
			bar.Finish()
			bar.Finish()
		})
	}
	if buf.Len() != 0 {
		t.Errorf("bar wrote %q to a buffer", buf.String())
	}
	if info, err := file.Stat(); err != nil || info.Size() != 0 {
		t.Errorf("bar wrote to a file: size %v, err %v", info.Size(), err)
	}
}

func TestNilBar(t *testing.T) {
	var bar *Bar
	bar.Add(1)
	if bar.Enabled() {
		t.Error("nil bar is enabled")
	}
	r := strings.NewReader("x")
	if bar.WrapReader(r) != io.Reader(r) {
		t.Error("nil bar wrapped a reader")
	}
	bar.Finish()
}

// fixedBar returns a drawing bar with a fake clock, 60 columns wide.
func fixedBar(w io.Writer, total int64, desc string) (*Bar, *time.Time) {
	clock := time.Unix(0, 0)
	b := newBar(w, total, desc, func() int { return 60 })
	b.now = func() time.Time { return clock }
	return b, &clock
}

func lastFrame(s string) string {
	frames := strings.Split(s, "\r")
	return strings.TrimSuffix(strings.TrimSuffix(frames[len(frames)-1], "\n"), "\x1b[K")
}

func TestDrawing(t *testing.T) {
	var out bytes.Buffer
	bar, clock := fixedBar(&out, 2048, "app.tar.gz")

	bar.Add(512)
	if got := lastFrame(out.String()); !strings.HasPrefix(got, "app.tar.gz [") || !strings.HasSuffix(got, "]  25% 512 B/2.0 KiB") {
		t.Errorf("frame = %q", got)
	}
	if n := len(lastFrame(out.String())); n > 59 {
		t.Errorf("frame is %d columns, wider than the terminal allows", n)
	}

	// Within the redraw interval nothing is drawn ...
	before := out.Len()
	bar.Add(1)
	if out.Len() != before {
		t.Error("redrawn within the redraw interval")
	}
	// ... unless the total is reached.
	*clock = clock.Add(time.Millisecond)
	if _, err := io.Copy(io.Discard, bar.WrapReader(strings.NewReader(strings.Repeat("x", 1535)))); err != nil {
		t.Fatal(err)
	}
	if got := lastFrame(out.String()); !strings.HasSuffix(got, "] 100% 2.0 KiB/2.0 KiB") || strings.Contains(got, ">") {
		t.Errorf("full frame = %q", got)
	}

	bar.Finish()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Error("Finish did not end the line")
	}
	after := out.Len()
	bar.Add(10)
	bar.Finish()
	if out.Len() != after {
		t.Error("bar drew after Finish")
	}
}

func TestUnknownTotal(t *testing.T) {
	var out bytes.Buffer
	bar, _ := fixedBar(&out, 0, "index")
	if _, err := bar.WrapWriter(io.Discard).Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	bar.Finish()
	if got := lastFrame(out.String()); got != "index 3.0 MiB" {
		t.Errorf("frame = %q", got)
	}
}

func TestNarrowTerminal(t *testing.T) {
	b := newBar(io.Discard, 100, "a-very-long-description-of-a-target", nil)
	b.current = 50
	got := b.line(30)
	if strings.Contains(got, "[") {
		t.Errorf("bar drawn in a 30-column terminal: %q", got)
	}
	if !strings.HasSuffix(got, "50% 50 B/100 B") || !strings.Contains(got, "…") {
		t.Errorf("line = %q", got)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 62: "4.0 EiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
