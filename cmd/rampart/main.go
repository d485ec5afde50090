// Command rampart is the Rampart command-line tool. All commands live in
// internal/cli; this file only wires the process to them.
package main

import (
	"os"

	"github.com/rampart-tuf/rampart/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
