package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// spinInterval is the time between two frames of a step's spinner.
const spinInterval = 100 * time.Millisecond

// spinner holds the frames of a running step's spinner.
const spinner = `|/-\`

// Steps reports work done in steps that each take a moment but have no
// size to count, such as generating and encrypting keys:
//
//	steps := progress.NewSteps(cmd.ErrOrStderr(), 2)
//	steps.Start("generating an ed25519 key")
//	priv, err := keys.Generate("ed25519")
//	steps.Done(err)
//
// On a terminal the running step is drawn as a spinner with the time it
// has taken, redrawn in place until Done replaces it with the step's
// result and the time it took. On any other writer (a pipe, a file, a
// log) Start writes one plain line per step, and nothing is redrawn.
//
// Steps is safe for concurrent use, and a nil *Steps does nothing.
type Steps struct {
	// Prefix goes before every line and frame, such as an indent.
	Prefix string

	mu    sync.Mutex
	w     io.Writer
	live  bool       // draw a spinner in place (a terminal)
	width func() int // terminal columns, when live
	now   func() time.Time
	total int // number of steps announced; 0 when unknown

	n       int    // number of the running or last step
	label   string // the running step's label; "" when none runs
	started time.Time
	frame   int           // spinner frame
	stop    chan struct{} // closed to stop the spinner
	stopped chan struct{} // closed when the spinner has stopped
}

// NewSteps returns a reporter of total steps (0 when the number is not
// known) writing on w: live, with a spinner, when w is an *os.File open on
// a terminal, otherwise one line per step.
func NewSteps(w io.Writer, total int) *Steps {
	if f, ok := w.(*os.File); ok && f != nil && term.IsTerminal(int(f.Fd())) {
		return newSteps(w, total, true, func() int {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
			return 80
		})
	}
	return newSteps(w, total, false, nil)
}

func newSteps(w io.Writer, total int, live bool, width func() int) *Steps {
	if w == nil {
		w = io.Discard
	}
	return &Steps{w: w, live: live, width: width, now: time.Now, total: total}
}

// Start begins a step described by label ("generating an ed25519 key"),
// ending the running one, if any, as done.
func (s *Steps) Start(label string) {
	if s == nil {
		return
	}
	s.Done(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.label, s.started, s.frame = label, s.now(), 0
	if !s.live {
		fmt.Fprintf(s.w, "%s%s%s...\n", s.Prefix, s.counter(), label)
		return
	}
	s.draw(s.running())
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	go s.spin(s.stop, s.stopped)
}

// Done ends the running step, as failed when err is not nil. Without a
// running step it does nothing.
func (s *Steps) Done(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	stop, stopped := s.stop, s.stopped
	s.stop, s.stopped = nil, nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.label == "" {
		return
	}
	if s.live {
		s.draw(s.finished(err))
		io.WriteString(s.w, "\n")
	}
	s.label = ""
}

// spin redraws the running step until stop is closed.
func (s *Steps) spin(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(spinInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.frame++
			s.draw(s.running())
			s.mu.Unlock()
		}
	}
}

// counter is "[2/4] " for the running step, or "" when the total is
// unknown or 1.
func (s *Steps) counter() string {
	if s.total <= 1 {
		return ""
	}
	return fmt.Sprintf("[%d/%d] ", s.n, s.total)
}

// running renders the running step: "| [1/4] generating a key  1.2s".
func (s *Steps) running() string {
	return fmt.Sprintf("%c %s%s... %s", spinner[s.frame%len(spinner)], s.counter(), s.label, elapsed(s.now().Sub(s.started)))
}

// finished renders a step that ended: "✓ [1/4] generating a key (1.2s)".
func (s *Steps) finished(err error) string {
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	return fmt.Sprintf("%s %s%s (%s)", mark, s.counter(), s.label, elapsed(s.now().Sub(s.started)))
}

// draw writes line over the current line, cut to the terminal's width.
// s.mu is held.
func (s *Steps) draw(line string) {
	// Leave the last column free: writing into it wraps on some terminals.
	io.WriteString(s.w, "\r"+truncate(s.Prefix+line, s.width()-1)+"\x1b[K")
}

// elapsed writes d in tenths of a second: "0.4s", "12.0s".
func elapsed(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}
