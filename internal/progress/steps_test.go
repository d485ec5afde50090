package progress

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that a spinner may write while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// frames splits what a live Steps wrote into the frames it drew, without
// the control sequence that clears the rest of the line.
func frames(out string) []string {
	var fs []string
	for _, f := range strings.Split(out, "\r") {
		if f != "" {
			fs = append(fs, strings.Replace(f, "\x1b[K", "", 1))
		}
	}
	return fs
}

// On anything but a terminal each step is one plain line, written when it
// starts; nothing is redrawn.
func TestStepsNotATerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var buf bytes.Buffer
	for name, w := range map[string]interface {
		Write([]byte) (int, error)
	}{"buffer": &buf, "file": file} {
		t.Run(name, func(t *testing.T) {
			s := NewSteps(w, 2)
			if s.live {
				t.Fatal("live on a writer that is no terminal")
			}
			s.Start("generating an ed25519 key")
			s.Start("encrypting root.key (argon2id)") // ends the first
			s.Done(errors.New("disk full"))
			s.Done(nil) // no running step: nothing
		})
	}
	const want = "[1/2] generating an ed25519 key...\n[2/2] encrypting root.key (argon2id)...\n"
	if buf.String() != want {
		t.Errorf("buffer got %q, want %q", buf.String(), want)
	}
	if data, _ := os.ReadFile(file.Name()); string(data) != want {
		t.Errorf("file got %q, want %q", data, want)
	}

	// One step, or an unknown number of them: no counter.
	buf.Reset()
	s := NewSteps(&buf, 1)
	s.Prefix = "   "
	s.Start("encrypting k.key (argon2id)")
	s.Done(nil)
	if buf.String() != "   encrypting k.key (argon2id)...\n" {
		t.Errorf("single step: %q", buf.String())
	}
}

func TestNilSteps(t *testing.T) {
	var s *Steps
	s.Start("x")
	s.Done(nil)
}

// On a terminal the running step spins in place with its elapsed time,
// and Done replaces it with its result and ends the line.
func TestStepsOnATerminal(t *testing.T) {
	var out lockedBuffer
	var mu sync.Mutex
	clock := time.Unix(0, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	s := newSteps(&out, 2, true, func() int { return 60 })
	s.now = now
	s.Start("generating an ed25519 key")
	if got := frames(out.String()); len(got) != 1 || got[0] != "| [1/2] generating an ed25519 key... 0.0s" {
		t.Fatalf("first frame: %q", got)
	}
	// The spinner turns and the time counts while the step runs.
	advance(1200 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for len(frames(out.String())) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := frames(out.String())
	if len(got) < 3 || got[1] != "/ [1/2] generating an ed25519 key... 1.2s" || got[2] != "- [1/2] generating an ed25519 key... 1.2s" {
		t.Fatalf("frames while running: %q", got)
	}
	s.Start("encrypting root.key (argon2id)") // ends the first as done
	advance(500 * time.Millisecond)
	s.Done(errors.New("disk full"))
	text := out.String()
	if !strings.Contains(text, "\r✓ [1/2] generating an ed25519 key (1.2s)\x1b[K\n\r| [2/2] encrypting root.key (argon2id)... 0.0s") {
		t.Errorf("the first step's end and the second's start: %q", text)
	}
	if !strings.HasSuffix(text, "\r✗ [2/2] encrypting root.key (argon2id) (0.5s)\x1b[K\n") {
		t.Errorf("a failed step ends with %q", text[strings.LastIndex(text, "\r"):])
	}
	// Nothing is drawn after Done: the spinner has stopped.
	n := len(out.String())
	time.Sleep(3 * spinInterval)
	if len(out.String()) != n {
		t.Error("drawn after Done")
	}
}

// A line longer than the terminal is cut, so that it never wraps.
func TestStepsNarrowTerminal(t *testing.T) {
	var out lockedBuffer
	s := newSteps(&out, 0, true, func() int { return 20 })
	s.Prefix = "  "
	s.now = func() time.Time { return time.Unix(0, 0) }
	s.Start("generating and encrypting a very long description")
	s.Done(nil)
	for _, f := range frames(out.String()) {
		if n := len([]rune(strings.TrimSuffix(f, "\n"))); n > 19 {
			t.Errorf("frame %q is %d columns in a 20-column terminal", f, n)
		}
	}
	if got := frames(out.String()); got[0] != "  | generating and…" {
		t.Errorf("frames %q", got)
	}
}
