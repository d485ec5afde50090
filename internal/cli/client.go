package cli

import "github.com/spf13/cobra"

// clientCommands returns the commands of the "client" group.
//
// Client commands fetch a repository's metadata, verify it as the TUF
// specification's client workflow requires, and download targets.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func clientCommands() []*cobra.Command {
	return []*cobra.Command{}
}
