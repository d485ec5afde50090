package cli

import "github.com/spf13/cobra"

// repoCommands returns the commands of the "repo" group.
//
// Repository commands create a TUF repository, add targets, sign
// metadata with the roles' keys and publish it.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func repoCommands() []*cobra.Command {
	return []*cobra.Command{}
}
