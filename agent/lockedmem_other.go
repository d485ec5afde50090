//go:build !linux

package agent

import "errors"

type lockedBuf struct{ mem []byte }

func newLocked(int) (*lockedBuf, error) {
	return nil, errors.New("the rampart agent locks keys in memory on Linux only")
}

func (b *lockedBuf) free() {}

// HardenProcess is not supported here.
func HardenProcess() error { return errors.New("not supported on this platform") }
