package cli

import "github.com/spf13/cobra"

// keyCommands returns the commands of the "key" group.
//
// Key commands create, import, list and rotate signing keys.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func keyCommands() []*cobra.Command {
	return []*cobra.Command{}
}
