package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/agent"
	"github.com/rampart-tuf/rampart/keystore"
)

const agentLong = `Hold unlocked signing keys in memory, as ssh-agent does, so that the
commands that sign do not ask for a passphrase (and derive a key from it)
each time.

'rampart agent --socket PATH' runs the agent in the foreground until Ctrl-C
or SIGTERM, which remove its socket and forget every key. Keys expire --ttl
after they are added. 'rampart agent add KEYFILE...' unlocks key files
(passphrase from RAMPART_PASSPHRASE or the terminal; PKCS#11 PIN from
RAMPART_PKCS11_PIN or the terminal) and hands them to the agent; 'list' and
'remove' show and drop them.

Every command that signs (repo add, publish, sign, delegate, rotate, oci
sign, ...) asks the agent named by RAMPART_AGENT_SOCK for each key it needs,
by key ID, and reads the key file only when the agent does not hold the key.

The socket is created with mode 0600 in a directory of mode 0700 (made if
missing), and the agent refuses connections from other users. Keys are kept
only in memory, in pages locked against swapping (mlock) and left out of
core dumps; keys on a PKCS#11 token stay on it, with the token session kept
open.`

func newAgentCommand() *cobra.Command {
	var socket string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "agent --socket PATH [--ttl 8h]",
		Short: "Hold unlocked signing keys in memory for the commands that sign",
		Long:  agentLong,
		Example: `  rampart agent --socket ~/.rampart/agent/sock &
  export RAMPART_AGENT_SOCK=~/.rampart/agent/sock
  rampart agent add myrepo/keys/targets.key myrepo/keys/snapshot.key
  rampart repo add myrepo app.tgz && rampart repo publish myrepo`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := agentSocket(socket)
			if err != nil {
				return err
			}
			return runAgent(cmd, path, ttl)
		},
	}
	cmd.PersistentFlags().StringVar(&socket, "socket", "", "path of the agent's socket (default $"+agent.EnvSocket+")")
	cmd.Flags().DurationVar(&ttl, "ttl", 8*time.Hour, "how long the agent holds each key after it is added")
	cmd.AddCommand(newAgentAddCommand(&socket), newAgentListCommand(&socket), newAgentRemoveCommand(&socket))
	return cmd
}

// agentSocket returns --socket, or RAMPART_AGENT_SOCK.
func agentSocket(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v := os.Getenv(agent.EnvSocket); v != "" {
		return v, nil
	}
	return "", usageErrorf("name the agent's socket with --socket PATH or %s", agent.EnvSocket)
}

func runAgent(cmd *cobra.Command, path string, ttl time.Duration) error {
	stderr := cmd.ErrOrStderr()
	if err := agent.HardenProcess(); err != nil {
		fmt.Fprintf(stderr, "rampart agent: warning: cannot keep other processes from reading this one's memory: %v\n", err)
	}
	srv, err := agent.Listen(path, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s=%s; export %s\n", agent.EnvSocket, srv.Path(), agent.EnvSocket)
	fmt.Fprintf(stderr, "rampart agent: listening on %s; keys expire %s after they are added; Ctrl-C stops\n", srv.Path(), ttl)
	if err := srv.Serve(cmd.Context()); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "rampart agent: stopped; socket removed and keys forgotten")
	return nil
}

func agentClient(socket string) (*agent.Client, error) {
	path, err := agentSocket(socket)
	if err != nil {
		return nil, err
	}
	return &agent.Client{Path: path}, nil
}

func newAgentAddCommand(socket *string) *cobra.Command {
	return &cobra.Command{
		Use:   "add KEYFILE...",
		Short: "Unlock key files and hand them to the agent",
		Long: `Unlock each key file (an encrypted key file, with the passphrase from
RAMPART_PASSPHRASE or the terminal; or a PKCS#11 key reference, with the PIN
from RAMPART_PKCS11_PIN or the terminal) and hand the key to the agent. A
passphrase that unlocked one file is tried first for the next.`,
		Args: checkArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := agentClient(*socket)
			if err != nil {
				return err
			}
			unlock := agentUnlocker(keystore.EnvOrPrompt(terminalIn(cmd), cmd.ErrOrStderr()))
			for _, f := range args {
				if err := agentAdd(cmd, c, unlock, f); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// agentUnlocker returns a function that unlocks key files, trying the last
// passphrase that worked before asking pass (never as a PKCS#11 PIN).
func agentUnlocker(pass keystore.PassphraseFunc) func(string) (*keystore.Unlocked, error) {
	var last []byte
	errPIN := errors.New("a PIN is needed")
	return func(path string) (*keystore.Unlocked, error) {
		if last != nil {
			u, err := keystore.Unlock(path, func(prompt string) ([]byte, error) {
				if keystore.IsPINPrompt(prompt) {
					return nil, errPIN
				}
				return append([]byte(nil), last...), nil
			})
			if err == nil || !errors.Is(err, keystore.ErrWrongPassphrase) && !errors.Is(err, errPIN) {
				return u, err
			}
		}
		var given []byte
		u, err := keystore.Unlock(path, func(prompt string) ([]byte, error) {
			p, err := pass(prompt)
			if err == nil && !keystore.IsPINPrompt(prompt) {
				given = append([]byte(nil), p...)
			}
			return p, err
		})
		if err == nil && given != nil {
			clear(last)
			last = given
		}
		return u, err
	}
}

func agentAdd(cmd *cobra.Command, c *agent.Client, unlock func(string) (*keystore.Unlocked, error), file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	u, err := unlock(file)
	if err != nil {
		return err
	}
	defer u.Clear()
	info, err := c.Add(cmd.Context(), u, abs)
	if err != nil {
		return fmt.Errorf("adding %s: %w", file, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added %s (%s %s) from %s, until %s\n",
		info.KeyID, info.Public.KeyType, info.Kind, file, info.Expires.Local().Format(time.DateTime))
	return nil
}

func newAgentListCommand(socket *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys the agent holds",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := agentClient(*socket)
			if err != nil {
				return err
			}
			held, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			if len(held) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "the agent holds no keys")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tTYPE\tKIND\tEXPIRES\tSOURCE")
			for _, k := range held {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.Public.KeyType, k.Kind,
					k.Expires.Local().Format(time.DateTime), k.Source)
			}
			return tw.Flush()
		},
	}
}

func newAgentRemoveCommand(socket *string) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "remove KEYID|KEYFILE... | --all",
		Short: "Make the agent forget keys",
		Long: `Make the agent forget keys, named by key ID (or a prefix of at least 8
hex digits naming one held key), or by key file (public or private: only its
public key is read), or all of them with --all. A key named that the agent
does not hold is an error, once the others are removed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErrorf("name the keys to remove, or give --all")
			}
			c, err := agentClient(*socket)
			if err != nil {
				return err
			}
			if all {
				n, err := c.Remove(cmd.Context(), nil, true)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d keys\n", n)
				return nil
			}
			return agentRemove(cmd, c, args)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every key")
	return cmd
}

func agentRemove(cmd *cobra.Command, c *agent.Client, args []string) error {
	held, err := c.List(cmd.Context())
	if err != nil {
		return err
	}
	var ids, missing []string
	for _, a := range args {
		id, err := agentKeyID(a, held)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", a, err))
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		n, err := c.Remove(cmd.Context(), ids, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "removed %d keys\n", n)
	}
	if len(missing) > 0 {
		return fmt.Errorf("not removed: %s", strings.Join(missing, "; "))
	}
	return nil
}

// agentKeyID resolves a key file, key ID or key ID prefix to the ID of a
// key the agent holds.
func agentKeyID(arg string, held []agent.KeyInfo) (string, error) {
	var id string
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		pk, err := keystore.ReadPublic(arg)
		if err != nil {
			return "", err
		}
		id = keystore.KeyID(pk)
	} else if len(arg) < 8 || strings.Trim(strings.ToLower(arg), "0123456789abcdef") != "" {
		return "", errors.New("not a key file, nor a key ID of at least 8 hex digits")
	}
	var found []string
	for _, k := range held {
		if (id != "" && k.KeyID == id) || (id == "" && strings.HasPrefix(k.KeyID, strings.ToLower(arg))) {
			found = append(found, k.KeyID)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", fmt.Errorf("names %d held keys; give more of the key ID", len(found))
	}
	return "", errors.New("the agent does not hold this key")
}
