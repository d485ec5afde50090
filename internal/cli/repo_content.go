package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

const contentModeHelp = `Where target content is served from (the repository's content mode):

  stored    files added are copied into DIR/targets and published with the
            metadata: uploaded to the metadata server, or written to
            PUBDIR/targets (the default)
  external  the content is hosted elsewhere (a registry, a CDN, a release
            page): files added are only hashed, their length and SHA-256
            signed for, and publishing sends or writes metadata only.
            Clients fetch the content from where it is hosted ('rampart
            client init --metadata-url URL --targets-url URL'), under its
            hash-prefixed name (the target app/app.tgz as
            app/SHA256.app.tgz), and check it against the metadata as
            always.`

func newRepoContentCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "content DIR [stored|external]",
		Short: "Show or set where target content is served from",
		Long: `Show where the target content of the repository in DIR is served from, or
set it for the targets added and the publishes made from now on.

` + contentModeHelp + `

Targets already listed stay as they are. Content already in DIR/targets
stays there: a stored repository publishes it as before, an external one
no longer publishes any. The mode is kept in DIR/repo.json ("content");
'rampart repo init --content' sets it for a new repository, and
'rampart repo publish --no-content' skips the content for one publish.`,
		Example: `  rampart repo content app
  rampart repo content app external`,
		Args: checkArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var mode repo.ContentMode
			if len(args) == 2 {
				var err error
				if mode, err = repo.ParseContentMode(args[1]); err != nil {
					return usageError{err}
				}
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				out := cmd.OutOrStdout()
				if mode == "" {
					fmt.Fprintf(out, "%s: target content %s\n", args[0], contentModeText(r.ContentMode()))
					return nil
				}
				was := r.ContentMode()
				if err := r.SetContentMode(cmd.Context(), mode); err != nil {
					return err
				}
				if was == mode {
					fmt.Fprintf(out, "%s: target content already %s\n", args[0], contentModeText(mode))
					return nil
				}
				fmt.Fprintf(out, "%s: target content now %s\n", args[0], contentModeText(mode))
				return nil
			})
		},
	}
}

// contentModeText says what a content mode means, for messages.
func contentModeText(m repo.ContentMode) string {
	if m == repo.ContentExternal {
		return "external (hosted elsewhere; files added are only hashed, publishing sends metadata only)"
	}
	return "stored (copied into the repository and published with the metadata)"
}
