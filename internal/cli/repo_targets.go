package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoAddCommand() *cobra.Command {
	var as, role, custom, manifest string
	var inToto repoInTotoFlags
	cmd := &cobra.Command{
		Use:   "add DIR [SOURCE]",
		Short: "Add target files to a repository",
		Long: `Add target files to the repository in DIR.

SOURCE is a file, added as its base name (or --as TARGETPATH), or a
directory, whose files are added recursively with their paths relative to
it (under the prefix --as, if given). The content is copied into the
repository and published with the metadata, unless the repository's
content is hosted elsewhere ('rampart repo content DIR external'): then
files are only hashed, and their content must be put where clients fetch
it, under its hash-prefixed name (the target app/app.tgz as
app/SHA256.app.tgz), which the command prints.

With --from-manifest, targets whose content lives elsewhere are registered
by length and SHA-256: each line of the manifest is
TARGETPATH<TAB>LENGTH<TAB>SHA256HEX.

Targets go into their hashed bin when the repository has bins, otherwise
into the first delegated role trusted for their path, or targets; --role
chooses a role. Changed roles are signed with the keys at hand.`,
		Example: `  rampart repo add myrepo dist/app-1.2.0.tar.gz --as app/app-1.2.0.tar.gz
  rampart repo add myrepo site/ --custom '{"channel":"stable"}'
  rampart repo add registry --from-manifest packages.tsv`,
		Args: checkArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inToto.used(cmd) {
				return inToto.add(cmd, args, as, role, custom != "" || manifest != "")
			}
			if (len(args) == 2) == (manifest != "") {
				return usageErrorf("give either SOURCE or --from-manifest FILE")
			}
			if manifest != "" && as != "" {
				return usageErrorf("--as does not apply to --from-manifest")
			}
			o := repo.AddOptions{Role: role}
			if custom != "" {
				o.Custom = []byte(custom)
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				var res *repo.AddResult
				var err error
				if manifest != "" {
					f, err := os.Open(manifest)
					if err != nil {
						return err
					}
					defer f.Close()
					var size int64
					if fi, err := f.Stat(); err == nil {
						size = fi.Size()
					}
					res, err = r.AddManifest(cmd.Context(), f, size, o)
					if err != nil {
						return err
					}
				} else {
					if res, err = r.AddFiles(cmd.Context(), args[1], as, o); err != nil {
						return err
					}
				}
				out := cmd.OutOrStdout()
				external := manifest == "" && r.ContentMode() == repo.ContentExternal
				if len(res.Targets) <= 20 {
					for _, t := range res.Targets {
						if external {
							fmt.Fprintf(out, "added %s (%s; content hosted elsewhere, as %s)\n", t.Path, plural(t.File.Length, "byte"), t.File.ConsistentPath(t.Path))
							continue
						}
						fmt.Fprintf(out, "added %s (%s)\n", t.Path, plural(t.File.Length, "byte"))
					}
				}
				if external {
					fmt.Fprintf(out, "content not copied: the repository's target content is hosted elsewhere\n")
				}
				fmt.Fprintf(out, "%s added to %s\n", plural(res.Count, "target"), summarizeRoles(res.Roles))
				printNotes(cmd, r)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&as, "as", "", "`TARGETPATH` of a file, or path prefix for a directory")
	f.StringVar(&role, "role", "", "`ROLE` to list the targets in (default: automatic)")
	f.StringVar(&custom, "custom", "", "custom metadata for the targets, as a `JSON` object")
	f.StringVar(&manifest, "from-manifest", "", "register the targets listed in `FILE` (TARGETPATH<TAB>LENGTH<TAB>SHA256HEX lines)")
	inToto.addFlags(f)
	return cmd
}

// summarizeRoles writes "targets" or "3 roles (bins-000: 2, ...)".
func summarizeRoles(perRole map[string]int) string {
	names := make([]string, 0, len(perRole))
	for n := range perRole {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 1 {
		return "role " + names[0]
	}
	if len(names) > 6 {
		return fmt.Sprintf("%d roles", len(names))
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, perRole[n])
	}
	return fmt.Sprintf("%d roles (%s)", len(names), strings.Join(parts, ", "))
}

func newRepoRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove DIR TARGETPATH...",
		Short: "Remove targets from a repository",
		Long: `Remove targets from every role of the repository in DIR that lists them.
Their content stays in the repository, since metadata already published
may still refer to it.`,
		Args: checkArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				perRole, err := r.Remove(cmd.Context(), args[1:]...)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s removed from %s\n", plural(len(args)-1, "target"), summarizeRoles(perRole))
				printNotes(cmd, r)
				return nil
			})
		},
	}
}
