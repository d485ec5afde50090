package cli

import "github.com/spf13/cobra"

// serverCommands returns the commands of the "server" group.
//
// Server commands run the metadata server and the signer (Notary API).
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func serverCommands() []*cobra.Command {
	return []*cobra.Command{}
}
