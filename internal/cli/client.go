package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/progress"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// clientCommands returns the commands of the "client" group.
//
// Client commands fetch a repository's metadata, verify it as the TUF
// specification's client workflow requires, and download targets.
func clientCommands() []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Fetch and verify metadata and targets from a TUF repository",
		Long: `Fetch and verify metadata and targets from a TUF repository.

A client directory holds the client's configuration (client.json) and the
metadata it trusts (metadata/), byte for byte as received. Start with
'rampart client init', which needs a root.json obtained out of band.

Key IDs are read as names, as other TUF clients read them (see
docs/compatibility.md); --strict-keyids refuses metadata that lists a key
under an ID other than the key's hash, as the specification requires. Given
to init, it is remembered in client.json.`,
	}
	cmd.PersistentFlags().Bool(strictKeyIDsFlag, false, "refuse key IDs that are not the hash of their key")
	cmd.AddCommand(newClientInitCommand(), newClientRefreshCommand(), newClientGetCommand(), newClientListCommand(),
		newClientExportCommand(), newClientImportCommand())
	return []*cobra.Command{cmd}
}

// clientConfig is DIR/client.json.
type clientConfig struct {
	MetadataURL  string `json:"metadata_url"`
	TargetsURL   string `json:"targets_url"`
	StrictKeyIDs bool   `json:"strict_keyids,omitempty"`
}

const strictKeyIDsFlag = "strict-keyids"

// strictKeyIDs reports whether --strict-keyids was given.
func strictKeyIDs(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool(strictKeyIDsFlag)
	return v
}

func newClientInitCommand() *cobra.Command {
	var base, root, dir, metaURL, targetsURL string
	var force bool
	cmd := &cobra.Command{
		Use:   "init [--url BASE] --root ROOT.json --dir DIR",
		Short: "Trust a root and remember where the repository is (no network access)",
		Long: `Trust a root and remember where the repository is. No network access.

ROOT.json must be signed by a threshold of its own root keys; it may have
expired (the client then follows the repository's newer roots at its first
refresh). --url gives both the metadata URL (BASE/metadata) and the targets
URL (BASE/targets); --metadata-url and --targets-url give them separately.
An existing client directory is not overwritten unless --force is given.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if metaURL == "" && base != "" {
				metaURL = strings.TrimSuffix(base, "/") + "/metadata"
			}
			if targetsURL == "" && base != "" {
				targetsURL = strings.TrimSuffix(base, "/") + "/targets"
			}
			if (metaURL == "") != (targetsURL == "") {
				return usageErrorf("give --url, or both --metadata-url and --targets-url (or none of them, for a client updated only by 'rampart client import')")
			}
			for _, u := range []struct{ flag, value string }{{"--url", base}, {"--metadata-url", metaURL}, {"--targets-url", targetsURL}} {
				if u.value == "" {
					continue
				}
				if err := checkHTTPURL(u.value); err != nil {
					return usageErrorf("%s: %v", u.flag, err)
				}
			}
			if err := checkNotClientDir(dir, force); err != nil {
				return err
			}
			data, err := os.ReadFile(root)
			if err != nil {
				return fmt.Errorf("--root: %w", err)
			}
			metaDir := filepath.Join(dir, "metadata")
			if force {
				// Metadata trusted under the old root must not survive.
				if err := os.RemoveAll(metaDir); err != nil {
					return err
				}
			}
			strict := strictKeyIDs(cmd)
			if err := client.InitWithOptions(metaDir, data, trust.Options{StrictKeyIDs: strict}); err != nil {
				return fmt.Errorf("%s: %w", root, err)
			}
			cfg, _ := json.MarshalIndent(clientConfig{metaURL, targetsURL, strict}, "", "  ")
			if err := os.WriteFile(filepath.Join(dir, "client.json"), append(cfg, '\n'), 0o644); err != nil {
				return err
			}
			if metaURL == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "initialized %s with no repository URL: it is updated by 'rampart client import' and used with --offline\n", dir)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialized %s: metadata from %s, targets from %s\n", dir, metaURL, targetsURL)
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "url", "", "repository base URL, with metadata/ and targets/ below it (none: a client updated by bundles only)")
	cmd.Flags().StringVar(&metaURL, "metadata-url", "", "metadata base URL (overrides --url)")
	cmd.Flags().StringVar(&targetsURL, "targets-url", "", "targets base URL (overrides --url)")
	cmd.Flags().StringVar(&root, "root", "", "trusted root.json, obtained out of band")
	cmd.Flags().StringVar(&dir, "dir", "", "client directory to create")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing client directory's root and configuration")
	cmd.MarkFlagRequired("root")
	cmd.MarkFlagRequired("dir")
	return cmd
}

// checkNotClientDir refuses to initialise over an existing client, unless
// force is set.
func checkNotClientDir(dir string, force bool) error {
	for _, name := range []string{"client.json", filepath.Join("metadata", "root.json")} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil && !force {
			return fmt.Errorf("%s is already a client directory (it has %s): give --force to replace its trusted root", dir, name)
		}
	}
	return nil
}

// clientLimits are the flags that change the client's limits.
type clientLimits struct {
	limits  client.Limits
	minRate int64
	window  time.Duration
	timeout time.Duration
}

func (l *clientLimits) addFlags(f *pflag.FlagSet) {
	intRangeVar(f, &l.limits.MaxRootRotations, "max-root-rotations", 256, 1, math.MaxInt, "root versions followed in one refresh")
	intRangeVar(f, &l.limits.MaxDelegations, "max-delegations", 32, 1, math.MaxInt, "delegated roles visited in one lookup")
	byteSizeVar(f, &l.limits.RootBytes, "max-root-bytes", 1<<20, "largest root.json accepted")
	byteSizeVar(f, &l.limits.TimestampBytes, "max-timestamp-bytes", 1<<20, "largest timestamp.json accepted")
	byteSizeVar(f, &l.limits.SnapshotBytes, "max-snapshot-bytes", 64<<20, "largest snapshot.json accepted when timestamp lists no length")
	byteSizeVar(f, &l.limits.TargetsBytes, "max-targets-bytes", 64<<20, "largest targets metadata accepted when snapshot lists no length")
	byteSizeVar(f, &l.minRate, "min-rate", 1024, "slowest transfer rate accepted, in bytes per second over each --rate-window")
	durationVar(f, &l.window, "rate-window", 10*time.Second, "period over which --min-rate is measured")
	durationVar(f, &l.timeout, "timeout", 30*time.Second, "longest wait for a server's response headers")
}

// openClient loads a client directory made by init.
func openClient(dir string, l *clientLimits, strict bool) (*client.Client, error) {
	data, err := os.ReadFile(filepath.Join(dir, "client.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a client directory (run 'rampart client init'): %w", dir, err)
	}
	var cfg clientConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "client.json"), err)
	}
	var fetcher client.Fetcher = &client.HTTPFetcher{UserAgent: "rampart/" + Version, MinRate: l.minRate, RateWindow: l.window, Timeout: l.timeout}
	if cfg.MetadataURL == "" {
		cfg.MetadataURL, fetcher = noRepository(dir)
	}
	return client.New(client.Config{
		MetadataURL: cfg.MetadataURL,
		TargetsURL:  cfg.TargetsURL,
		Dir:         filepath.Join(dir, "metadata"),
		Fetcher:     fetcher,
		Limits:      l.limits,
		// Strict when init or this command asks.
		StrictKeyIDs: cfg.StrictKeyIDs || strict,
	})
}

// refreshedClient opens the client directory and refreshes its metadata.
func refreshedClient(cmd *cobra.Command, dir string, l *clientLimits) (*client.Client, error) {
	c, err := openClient(dir, l, strictKeyIDs(cmd))
	if err != nil {
		return nil, err
	}
	return c, c.Refresh(cmd.Context())
}

// addClientFlags adds --dir and the limit flags every command on a client
// directory takes.
func addClientFlags(cmd *cobra.Command, dir *string, l *clientLimits) {
	cmd.Flags().StringVar(dir, "dir", "", "client directory")
	cmd.MarkFlagRequired("dir")
	l.addFlags(cmd.Flags())
}

func newClientRefreshCommand() *cobra.Command {
	var dir string
	var limits clientLimits
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "refresh --dir DIR",
		Short: "Update the trusted metadata from the repository",
		Long: `Update the trusted metadata from the repository and say what changed:
"root v1 → v2", "timestamp v5 → v6", ..., or that nothing did. --json
prints the same as a JSON object for scripts.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			before := trustedVersions(filepath.Join(dir, "metadata"))
			if _, err := refreshedClient(cmd, dir, &limits); err != nil {
				return unreachableHint(err, dir)
			}
			changes := versionChanges(before, trustedVersions(filepath.Join(dir, "metadata")))
			return printRefresh(cmd.OutOrStdout(), changes, asJSON)
		},
	}
	addClientFlags(cmd, &dir, &limits)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what changed as JSON")
	return cmd
}

// progressThreshold is the size above which downloads show progress.
const progressThreshold = 4 << 20

func newClientGetCommand() *cobra.Command {
	var dir, out string
	var limits clientLimits
	var off offlineFlags
	var inToto inTotoFlags
	cmd := &cobra.Command{
		Use:   "get --dir DIR TARGETPATH -o FILE [--in-toto]",
		Short: "Refresh, then download and verify one target",
		Long: `Refresh the metadata, look the target up through the delegations, download
it and verify its length and hashes. The file appears at FILE only once
verified; on any failure nothing is left there.

-o - writes the target to standard output, and -o DIR/ (or an existing
directory) writes DIR/BASENAME. Only a regular file is ever replaced; a
FIFO, a device or a symlink's target is written into as any program would,
after the target is verified.

With --offline, nothing is fetched: the target is looked up in the metadata
already trusted in DIR and copied from the targets a bundle brought in
('rampart client import'), checked the same way.

With --in-toto, the target's supply chain is verified too: the in-toto
layout, its public keys and the links that the target's custom "in-toto"
metadata lists are fetched and verified through TUF, then in-toto
verification runs with the target as the final product.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, err := resolveOutput(out, args[0])
			if err != nil {
				return err
			}
			c, err := lookupClient(cmd, dir, &limits, &off)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if inToto.enabled {
				return inToto.get(cmd, c, args[0], out)
			}
			info, err := c.Target(ctx, args[0])
			off.warnExpired(cmd, c)
			if err != nil {
				return err
			}
			if off.offline && !dst.stdout && !dst.special {
				return offlineGet(cmd, dir, info, dst.path)
			}
			if off.offline {
				if _, err := deliverTarget(ctx, dst, cmd.OutOrStdout(), func(p string) (bool, error) { return targetStore(dir).CopyTo(info, p) }); err != nil {
					return err
				}
				fmt.Fprintf(messageOut(cmd, dst), "copied %s (%s, verified, offline) to %s\n", args[0], plural(info.Length, "byte"), dst.shown)
				return nil
			}
			var bar *progress.Bar
			var w io.Writer
			if info.Length > progressThreshold {
				bar = progress.New(cmd.ErrOrStderr(), info.Length, args[0])
				w = &progressWriter{bar}
			}
			got, err := downloadTo(ctx, c, info, dst, cmd.OutOrStdout(), w)
			bar.Finish()
			if errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("%w\nthe metadata lists %s, but %s has no content for it; if the repository's content is hosted elsewhere, point this client at it with 'rampart client init --dir %s --targets-url URL --metadata-url URL --root ROOT.json --force'", err, args[0], c.TargetURL(info), dir)
			}
			if err != nil {
				return err
			}
			verb := "downloaded"
			if !got {
				verb = "already up to date:"
			}
			fmt.Fprintf(messageOut(cmd, dst), "%s %s (%s, verified) to %s\n", verb, args[0], plural(info.Length, "byte"), dst.shown)
			return nil
		},
	}
	addClientFlags(cmd, &dir, &limits)
	off.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the target: `FILE`, DIR/ (DIR/BASENAME), or - for standard output")
	cmd.MarkFlagRequired("output")
	inToto.addFlags(cmd.Flags())
	return cmd
}

// messageOut is where get says what it wrote: standard output, unless
// -o - has the target there, then standard error.
func messageOut(cmd *cobra.Command, dst outputTarget) io.Writer {
	if dst.stdout {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

type progressWriter struct{ bar *progress.Bar }

func (p *progressWriter) Write(b []byte) (int, error) {
	p.bar.Add(int64(len(b)))
	return len(b), nil
}

func newClientListCommand() *cobra.Command {
	var dir string
	var limits clientLimits
	var asJSON bool
	var maxRoles int
	var off offlineFlags
	cmd := &cobra.Command{
		Use:   "list --dir DIR [--json]",
		Short: "Refresh, then list every target the repository offers",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lookupClient(cmd, dir, &limits, &off)
			if err != nil {
				return err
			}
			list, err := c.ListTargets(cmd.Context(), maxRoles)
			off.warnExpired(cmd, c)
			if err != nil {
				return err
			}
			if asJSON {
				type entry struct {
					Path   string            `json:"path"`
					Length int64             `json:"length"`
					Hashes map[string]string `json:"hashes"`
					Role   string            `json:"role"`
					Custom json.RawMessage   `json:"custom,omitempty"`
				}
				entries := []entry{}
				for _, t := range list {
					h := map[string]string{}
					if t.Hashes.SHA256 != nil {
						h["sha256"] = fmt.Sprintf("%x", t.Hashes.SHA256)
					}
					if t.Hashes.SHA512 != nil {
						h["sha512"] = fmt.Sprintf("%x", t.Hashes.SHA512)
					}
					entries = append(entries, entry{t.Path, t.Length, h, t.Role, t.Custom})
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tLENGTH\tROLE")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", printableName(t.Path), t.Length, printableName(t.Role))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &dir, &limits)
	off.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	intRangeVar(cmd.Flags(), &maxRoles, "max-roles", 100000, 1, math.MaxInt, "stop after visiting this many roles")
	return cmd
}

// printableName returns a target path or role name from metadata, which
// may have been signed anywhere, as it can be printed safely: as it is when
// it is a clean target path (metadata.CheckTargetPath), otherwise quoted
// with Go's escapes, so that control characters, bidirectional controls
// and the like show as escapes instead of acting on the terminal.
func printableName(s string) string {
	if metadata.CheckTargetPath(s) == nil {
		return s
	}
	return strconv.Quote(s)
}
