package store

import (
	"os"
	"time"
)

// EnvPauseInCommit names an environment variable for crash tests only. When
// it holds a file path, PauseInCommit creates that file and blocks for a
// minute, so that a test can kill the server with SIGKILL while a publish's
// transaction has written some of its rows but not committed them.
const EnvPauseInCommit = "RAMPART_TEST_PAUSE_IN_COMMIT"

// PauseInCommit is called by stores in the middle of a publish
// transaction. It does nothing unless EnvPauseInCommit is set.
func PauseInCommit() {
	p := os.Getenv(EnvPauseInCommit)
	if p == "" {
		return
	}
	os.WriteFile(p, nil, 0o600)
	time.Sleep(time.Minute)
}
