package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/client"
)

// offlineFlags are --offline and --allow-expired of the client commands
// that answer from the trusted metadata.
type offlineFlags struct {
	offline, allowExpired bool
}

func (o *offlineFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.offline, "offline", false, "use only the metadata and targets already trusted in DIR, with no network access")
	cmd.Flags().BoolVar(&o.allowExpired, "allow-expired", false, "with --offline, accept trusted metadata that has expired (and say so on standard error)")
}

// lookupClient opens the client directory and makes its metadata current:
// refreshed from the repository, or, with --offline, loaded from DIR alone.
func lookupClient(cmd *cobra.Command, dir string, l *clientLimits, o *offlineFlags) (*client.Client, error) {
	if o.allowExpired && !o.offline {
		return nil, usageErrorf("--allow-expired goes with --offline: online, expired metadata is replaced by a refresh")
	}
	c, err := openClient(dir, l, strictKeyIDs(cmd))
	if err != nil {
		return nil, err
	}
	if o.offline {
		if err := c.RefreshOffline(o.allowExpired); err != nil {
			if !o.allowExpired && client.IsExpired(err) {
				return nil, fmt.Errorf("%w (the trusted metadata in %s has expired: refresh online, import a newer bundle, or accept it with --allow-expired)", err, dir)
			}
			return nil, err
		}
		return c, nil
	}
	if err := c.Refresh(cmd.Context()); err != nil {
		return nil, unreachableHint(err, dir)
	}
	return c, nil
}

// warnExpired says on standard error which expired metadata an offline
// command relied on.
func (o *offlineFlags) warnExpired(cmd *cobra.Command, c *client.Client) {
	if !o.allowExpired {
		return
	}
	if list := c.Expired(time.Now()); len(list) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "rampart: warning: --allow-expired: relying on expired metadata: %s\n", strings.Join(list, ", "))
	}
}

// targetStore is where a client directory keeps target content for
// offline use (filled by 'rampart client import').
func targetStore(dir string) client.TargetStore {
	return client.TargetStore{Dir: filepath.Join(dir, "targets")}
}

// unreachableHint adds, to an error from a repository that could not be
// reached, that --offline exists.
func unreachableHint(err error, dir string) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("cannot reach the repository: %w ('rampart client get --offline' and 'rampart client list --offline' answer from the metadata already trusted in %s, with no network)", err, dir)
	}
	return err
}

// offlineGet copies a target from DIR's target store to out.
func offlineGet(cmd *cobra.Command, dir string, info client.TargetInfo, out string) error {
	copied, err := targetStore(dir).CopyTo(info, out)
	if err != nil {
		return err
	}
	verb := "copied"
	if !copied {
		verb = "already up to date:"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%d bytes, verified, offline) to %s\n", verb, info.Path, info.Length, out)
	return nil
}

// noRepository is the URL and fetcher of a client directory initialized
// without a repository URL: every fetch fails, saying what to do instead.
func noRepository(dir string) (string, client.Fetcher) {
	return "none:", noRepositoryFetcher(dir)
}

type noRepositoryFetcher string

func (d noRepositoryFetcher) Fetch(context.Context, string, int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("%s has no repository URL (it was initialized for bundles): use --offline, and 'rampart client import' to update it", string(d))
}
