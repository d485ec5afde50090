package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/store"
)

// newTokenCommand returns "rampart token": the access tokens of the
// metadata server, managed through a running server or its store.
func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the server's access tokens (pull, push, admin)",
		Args:  checkArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenRevokeCommand())
	return cmd
}

// tokenTarget is where the token commands work: a running server (--server
// with an admin token) or the server's store directly (--data or --store).
type tokenTarget struct {
	serverURL, token, tokenFile, data, storeURL string
}

// addFlags declares the flags of tokenTarget; verb says what the store
// flags are for ("write into", "read").
func (o *tokenTarget) addFlags(f *pflag.FlagSet, what, verb string) {
	f.StringVar(&o.serverURL, "server", "", "URL of a running server to "+what)
	f.StringVar(&o.token, "token", "", "admin token for --server")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the admin token for --server (wins over --token and RAMPART_TOKEN)")
	f.StringVar(&o.data, "data", "", "the server's data directory, to "+verb+" its store directly")
	f.StringVar(&o.storeURL, "store", "", "PostgreSQL URL of the server's store, to "+verb+" it directly")
}

// remote returns a client of --server, or nil without --server.
func (o *tokenTarget) remote() (*apiclient.Client, error) {
	if o.serverURL == "" {
		return nil, nil
	}
	token, err := readToken(o.token, o.tokenFile)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, usageErrorf("--server needs an admin token: give it with --token-file (DATA/admin.token on the server), --token or RAMPART_TOKEN")
	}
	return newServerClient(o.serverURL, token)
}

// openStore opens the store of --data or --store.
func (o *tokenTarget) openStore(ctx context.Context, verb string) (store.Store, error) {
	if o.data == "" && o.storeURL == "" {
		return nil, usageErrorf("give --server, or --data (or --store) to %s the store directly", verb)
	}
	return openServerStore(ctx, o.data, o.storeURL)
}

const tokenCreateLong = `Create an access token for the metadata server and print it.

A token covers the GUNs under --gun-prefix ("example.com/acme" covers
example.com/acme and example.com/acme/app, not example.com/acmecorp; an
empty prefix covers all) with a scope: pull reads changefeeds, push also
publishes metadata and uploads targets, admin also rotates online keys,
deletes repositories and creates, lists and revokes tokens.

With --server, the token is made by a running server and --token (or
RAMPART_TOKEN, or --token-file) must be an admin token covering the prefix.
Without it, the token is written straight into the store in --data (or
--store); the embedded store can only be opened while the server is
stopped.

  rampart token create --server http://127.0.0.1:4443 --token-file /var/lib/rampart/admin.token \
      --gun-prefix example.com/acme --scope push`

func newTokenCreateCommand() *cobra.Command {
	var prefix, scope, desc string
	var o tokenTarget
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a scoped access token",
		Long:  tokenCreateLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scope == "" {
				return usageErrorf("--scope is required: pull, push or admin")
			}
			if _, err := auth.ParseScope(scope); err != nil {
				return usageErrorf("--scope: %v", err)
			}
			c, err := o.remote()
			if err != nil {
				return err
			}
			if c != nil {
				tok, err := c.CreateToken(cmd.Context(), prefix, scope, desc)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			}
			st, err := o.openStore(cmd.Context(), "write into")
			if err != nil {
				return err
			}
			defer st.Close()
			tok, hash := auth.NewToken()
			if err := st.CreateToken(cmd.Context(), store.Token{Hash: hash, GUNPrefix: prefix, Scope: scope, Description: desc}); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "gun-prefix", "", "GUNs the token covers (empty: all)")
	f.StringVar(&scope, "scope", "", "pull, push or admin (required)")
	f.StringVar(&desc, "description", "", "what the token is for")
	o.addFlags(f, "create the token", "write into")
	return cmd
}

const tokenListLong = `List the metadata server's access tokens: their ID, the GUN prefix they
cover ("(all)" for every GUN), scope, creation time (UTC; "-" when the
store does not know it) and description. Secrets are never shown: the
server keeps only their hashes. A token's ID is the first 16 hex digits of
the SHA-256 of the token, the name "rampart token revoke" takes.

With --server, a running server answers, and --token (or RAMPART_TOKEN, or
--token-file) must be an admin token; an admin token for a GUN prefix sees
only the tokens within that prefix. Without it, the store in --data (or
--store) is read directly and every token is listed; the embedded store
can only be opened while the server is stopped.

  rampart token list --server http://127.0.0.1:4443 --token-file /var/lib/rampart/admin.token
  rampart token list --data /var/lib/rampart --json`

func newTokenListCommand() *cobra.Command {
	var o tokenTarget
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the access tokens",
		Long:  tokenListLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := listTokens(cmd.Context(), &o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tGUN PREFIX\tSCOPE\tCREATED\tDESCRIPTION")
			for _, t := range list {
				prefix, created := t.GUNPrefix, "-"
				if prefix == "" {
					prefix = "(all)"
				}
				if !t.CreatedAt.IsZero() {
					created = t.CreatedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(t.ID), printable(prefix), printable(t.Scope), created, printable(t.Description))
			}
			return tw.Flush()
		},
	}
	o.addFlags(cmd.Flags(), "list the tokens", "read")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// listTokens lists the tokens of the server or of the store.
func listTokens(ctx context.Context, o *tokenTarget) ([]apiclient.Token, error) {
	c, err := o.remote()
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.ListTokens(ctx)
	}
	st, err := o.openStore(ctx, "read")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	all, err := st.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	list := make([]apiclient.Token, 0, len(all))
	for _, t := range all {
		list = append(list, storeToken(t))
	}
	return list, nil
}

func storeToken(t store.Token) apiclient.Token {
	return apiclient.Token{ID: t.ID, GUNPrefix: t.GUNPrefix, Scope: t.Scope, Description: t.Description, CreatedAt: t.CreatedAt}
}

// printable replaces control characters, which a description may hold,
// so that a listing cannot move the cursor or break the table.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

const tokenRevokeLong = `Revoke an access token of the metadata server: it stops working at once,
on every replica sharing the store. ID is the token's ID as "rampart token
list" shows it, or the token itself (rpt_...), whose ID is then computed
here; the token is not sent anywhere. An admin token may revoke itself.

With --server, a running server revokes the token, and --token (or
RAMPART_TOKEN, or --token-file) must be an admin token whose GUN prefix
contains the revoked token's. Without it, the token is deleted from the
store in --data (or --store) directly; the embedded store can only be
opened while the server is stopped.

The admin token in DATA/admin.token cannot be revoked through the server:
rampart serve stores it again at every start. To replace it, stop the
server, delete DATA/admin.token, revoke the token with --data DATA (or
--store URL) and start the server again, which writes a new admin token.

  rampart token revoke 3f9a0c1d2b4e5f60 --server http://127.0.0.1:4443 \
      --token-file /var/lib/rampart/admin.token
  rampart token revoke 3f9a0c1d2b4e5f60 --data /var/lib/rampart`

func newTokenRevokeCommand() *cobra.Command {
	var o tokenTarget
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an access token",
		Long:  tokenRevokeLong,
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTokenID(args[0])
			if err != nil {
				return err
			}
			t, err := revokeToken(cmd.Context(), cmd.ErrOrStderr(), &o, id)
			if err != nil {
				return err
			}
			prefix := t.GUNPrefix
			if prefix == "" {
				prefix = "all GUNs"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s (%s on %s", t.ID, printable(t.Scope), printable(prefix))
			if t.Description != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ": %s", printable(t.Description))
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			return nil
		},
	}
	o.addFlags(cmd.Flags(), "revoke the token", "delete from")
	return cmd
}

// parseTokenID reads the argument of token revoke: an ID, or a token
// whose ID it computes.
func parseTokenID(arg string) (string, error) {
	if auth.WellFormed(arg) {
		return store.TokenID(auth.Hash(arg)), nil
	}
	id := strings.ToLower(arg)
	if _, err := hex.DecodeString(id); err == nil && len(id) == store.TokenIDLength {
		return id, nil
	}
	return "", usageErrorf("%q is neither a token ID (%d hex digits, as rampart token list shows) nor a token (rpt_...)", arg, store.TokenIDLength)
}

// revokeToken revokes the token with the given ID on the server or in the
// store. In the store, it refuses the admin token of a data directory
// while the token is still in its file: rampart serve would store it
// again.
func revokeToken(ctx context.Context, stderr io.Writer, o *tokenTarget, id string) (apiclient.Token, error) {
	c, err := o.remote()
	if err != nil {
		return apiclient.Token{}, err
	}
	if c != nil {
		return c.RevokeToken(ctx, id)
	}
	st, err := o.openStore(ctx, "delete from")
	if err != nil {
		return apiclient.Token{}, err
	}
	defer st.Close()
	var adminFile string
	t, err := st.DeleteToken(ctx, id, func(t store.Token) error {
		path, ok := server.AdminFileToken(t)
		if !ok {
			return nil
		}
		adminFile = path
		files := []string{path}
		if o.data != "" {
			files = append(files, filepath.Join(o.data, server.AdminTokenFile))
		}
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && store.TokenID(auth.Hash(strings.TrimSpace(string(b)))) == t.ID {
				return fmt.Errorf("token %s is the admin token in %s, which rampart serve stores again at every start; "+
					"delete %s first (the server then writes a new admin token at its next start) and revoke the token again", id, f, f)
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return apiclient.Token{}, fmt.Errorf("no token with ID %s", id)
	}
	if err != nil {
		return apiclient.Token{}, err
	}
	if adminFile != "" {
		fmt.Fprintf(stderr, "note: token %s was the admin token of %s; rampart serve writes a new one there at its next start\n", id, adminFile)
	}
	return storeToken(t), nil
}
