package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoExpiryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "expiry DIR ROLE DURATION",
		Short: "Set how long a role's metadata stays valid",
		Long: `Set the expiry policy of ROLE ("bins" for all hashed bins): every time the
role is signed, its metadata expires DURATION later (90d, 2w, 1y, 36h). The
role is signed again at once with the new expiry.`,
		Example: `  rampart repo expiry myrepo timestamp 1d
  rampart repo expiry myrepo bins 30d`,
		Args: checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := repo.ParseDuration(args[2])
			if err != nil {
				return usageError{err}
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				if err := r.SetExpiry(cmd.Context(), args[1], d); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s now expires %s after each signing\n", args[1], repo.FormatDuration(d))
				printNotes(cmd, r)
				return nil
			})
		},
	}
}

func newRepoRefreshCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "refresh DIR [ROLE]...",
		Short: "Sign roles again before they expire",
		Long: `Sign ROLEs again, unchanged but with a new version and expiry, with the
keys at hand. Without ROLE, every role with less than half of its expiry
period left is refreshed ("bins" stands for all hashed bins). Publish
afterwards; publish itself refreshes snapshot and timestamp.`,
		Args: checkArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				done, err := r.Refresh(cmd.Context(), args[1:]...)
				if err != nil {
					return err
				}
				if len(done) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no role needs refreshing")
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "refreshed %s\n", strings.Join(done, ", "))
				printNotes(cmd, r)
				return nil
			})
		},
	}
}
