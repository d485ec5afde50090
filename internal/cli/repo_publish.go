package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoPublishCommand() *cobra.Command {
	var out string
	var tok tokenFlags
	var so repo.ServerOptions
	cmd := &cobra.Command{
		Use:   "publish DIR [--out PUBDIR]",
		Short: "Write metadata and targets for clients to fetch",
		Long: `Check that every role is signed by its threshold of keys and publish the
repository.

With --out, write PUBDIR/metadata (N.ROLE.json for every version of every
role, every root version, root.json and timestamp.json) and PUBDIR/targets
(dir/HASH.name), ready for any static web server, bucket or CDN. Snapshot
and timestamp are signed again first when they need it and their keys are
at hand. Files already in PUBDIR are kept: publishing again writes only
what changed, and timestamp.json is replaced last.

Without --out, publish to the metadata server the repository was created
for ('rampart repo init DIR --server URL --gun GUN'), with a push token
(--token, RAMPART_TOKEN or --token-file). Publish reads what the server
has, uploads the target content it lacks (DIR/uploaded.txt remembers what
it has, so later publishes ask only about new content), then sends every
newer root version and the roles that changed (and snapshot, if you hold
its key) in one atomic update; the server checks them as a client would
and signs the new timestamp. Nothing is sent when a role is below its
threshold or expired, and the server's answer is checked against what was
sent.

Either way, a package whose in-toto metadata is incomplete is refused: its
layout, a key of the layout or a link not found as a client would find it,
or a link for a step the layout does not have.

A repository whose target content is hosted elsewhere ('rampart repo
content DIR external') publishes metadata only: nothing is uploaded, and
nothing is written to PUBDIR/targets. --no-content does the same for one
publish, for content that is put in place by other means.`,
		Example: `  rampart repo publish myrepo --out /srv/www/tuf
  RAMPART_TOKEN=rpt_... rampart repo publish app`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if so.NoContent && so.RecheckTargets {
				return usageErrorf("--recheck-targets asks the server about the content that --no-content leaves out: give one of them")
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				if out == "" {
					sc := r.Server()
					if sc == nil {
						return usageErrorf("give the output directory with --out PUBDIR (%s does not publish to a metadata server)", args[0])
					}
					c, err := tok.client(sc.URL)
					if err != nil {
						return err
					}
					res, err := r.PublishToServer(cmd.Context(), c, so)
					if err != nil {
						return err
					}
					printServerResult(cmd.OutOrStdout(), res, noContentWhy(r, so.NoContent))
					return nil
				}
				res, err := r.PublishWith(cmd.Context(), out, repo.PublishOptions{NoContent: so.NoContent})
				if err != nil {
					return err
				}
				targets := plural(res.TargetFiles, "target") + " written"
				if res.NoContent {
					targets = "no target content (" + noContentWhy(r, so.NoContent) + ")"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "published root v%d, snapshot v%d, timestamp v%d to %s: %s written, %s, %d unchanged\n",
					res.RootVersion, res.SnapshotVer, res.TimestampVer, res.Out, plural(res.MetadataFiles, "metadata file"), targets, res.Unchanged)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory (`PUBDIR`) to publish to; without it, publish to the repository's server")
	tok.add(cmd.Flags(), "push token for the repository's server")
	cmd.Flags().BoolVar(&so.RecheckTargets, "recheck-targets", false, "ask the server about all target content, not only content added since DIR/uploaded.txt says it was uploaded")
	cmd.Flags().BoolVar(&so.NoContent, "no-content", false, "publish metadata only this time: upload (or write to PUBDIR) no target content")
	return cmd
}

// noContentWhy says why a publish sends no content: the repository's
// mode, or the --no-content flag.
func noContentWhy(r *repo.Repo, flag bool) string {
	if r.ContentMode() == repo.ContentExternal {
		return "content hosted elsewhere"
	}
	if flag {
		return "--no-content"
	}
	return ""
}

// printServerResult says what a publish to a server did; why says why
// no content was sent, when none was.
func printServerResult(w io.Writer, res *repo.ServerResult, why string) {
	where := strings.TrimRight(res.URL, "/") + " as " + res.GUN
	if res.UpToDate {
		fmt.Fprintf(w, "%s is up to date: root v%d, snapshot v%d, timestamp v%d\n", where, res.RootVersion, res.SnapshotVersion, res.TimestampVersion)
		return
	}
	sent := rootsAndRoles(res.RootVersions, res.Roles)
	if len(sent) == 0 {
		sent = []string{"no metadata"}
	}
	content := fmt.Sprintf("%s uploaded, %s, %d already there", plural(res.TargetsUploaded, "target"), formatSize(res.TargetBytes), res.TargetsPresent)
	if res.NoContent {
		content = "no target content: " + why
	}
	fmt.Fprintf(w, "published to %s: root v%d, snapshot v%d, timestamp v%d (sent %s; %s)\n",
		where, res.RootVersion, res.SnapshotVersion, res.TimestampVersion, strings.Join(sent, ", "), content)
}

// rootsAndRoles names root versions and roles for a message: "root v2",
// then the roles, or their number when there are many.
func rootsAndRoles(roots []int64, roles []string) []string {
	var out []string
	for _, v := range roots {
		out = append(out, fmt.Sprintf("root v%d", v))
	}
	if n := len(roles); n > 6 {
		return append(out, fmt.Sprintf("%d roles", n))
	}
	return append(out, roles...)
}

// formatSize writes n bytes for people.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return plural(n, "byte")
}
