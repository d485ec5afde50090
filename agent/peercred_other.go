//go:build !linux

package agent

import (
	"errors"
	"net"
)

// peerUID fails: without SO_PEERCRED the agent cannot tell who connects,
// and refuses everyone.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("the rampart agent needs SO_PEERCRED to check who connects, and runs on Linux only")
}
