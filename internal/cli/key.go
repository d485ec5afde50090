package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/internal/progress"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// keyCommands returns the commands of the "key" group.
//
// Key commands create, import, list and rotate signing keys.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func keyCommands() []*cobra.Command {
	return []*cobra.Command{newKeyCommand(), newAgentCommand()}
}

const keyLong = `Create and manage signing keys.

A key is a pair of files: NAME.pub, the public key as a TUF key object (JSON
that can be pasted into metadata), and NAME.key, the private key encrypted
under a passphrase, or a reference to a key on a PKCS#11 token (a smart card,
an HSM or SoftHSM). Every command that signs takes either kind of NAME.key.

Passphrases come from RAMPART_PASSPHRASE or are asked for on the terminal;
token PINs come from RAMPART_PKCS11_PIN or are asked for on the terminal.`

func newKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Create and manage signing keys",
		Long:  keyLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newKeyGenerateCommand(),
		newKeyImportPKCS11Command(),
		newKeyIDCommand(),
		newKeyChangePassphraseCommand(),
	)
	return cmd
}

// envNewPassphrase holds the new passphrase for "key change-passphrase".
const envNewPassphrase = "RAMPART_NEW_PASSPHRASE"

// terminalIn returns the command's standard input as a file, for
// passphrase prompts, or nil if it is not a file (as in tests).
func terminalIn(cmd *cobra.Command) *os.File {
	f, _ := cmd.InOrStdin().(*os.File)
	return f
}

// pkcs11Flags are the flags that name a key on a PKCS#11 token.
type pkcs11Flags struct {
	module, token, label, id string
}

// add declares the flags; idUsage describes --key-id for the command.
func (p *pkcs11Flags) add(cmd *cobra.Command, idUsage string) {
	cmd.Flags().StringVar(&p.module, "pkcs11-module", "", "absolute path of the token's PKCS#11 library, such as /usr/lib/softhsm/libsofthsm2.so")
	cmd.Flags().StringVar(&p.token, "token-label", "", "label of the PKCS#11 token")
	cmd.Flags().StringVar(&p.label, "key-label", "", "label of the key on the token (default: the base name of --output)")
	cmd.Flags().StringVar(&p.id, "key-id", "", idUsage)
}

func (p *pkcs11Flags) key(output string) (keystore.PKCS11Key, error) {
	if p.token == "" {
		return keystore.PKCS11Key{}, usageErrorf("--token-label is required with --pkcs11-module")
	}
	k := keystore.PKCS11Key{Module: p.module, TokenLabel: p.token, KeyLabel: p.label, KeyID: p.id}
	if k.KeyLabel == "" {
		k.KeyLabel = filepath.Base(output)
	}
	if !filepath.IsAbs(k.Module) {
		return k, usageErrorf("--pkcs11-module must be an absolute path, got %q", k.Module)
	}
	return k, nil
}

// keyPaths returns NAME.pub and NAME.key, failing if either exists and
// force is not set.
func keyPaths(name string, force bool) (pub, priv string, err error) {
	pub, priv = name+".pub", name+".key"
	if !force {
		for _, p := range []string{pub, priv} {
			if _, err := os.Lstat(p); err == nil {
				return "", "", fmt.Errorf("%s already exists; choose another name or use --force", p)
			}
		}
	}
	return pub, priv, nil
}

func newKeyGenerateCommand() *cobra.Command {
	var (
		keyType, scheme, output string
		force                   bool
		p11                     pkcs11Flags
	)
	cmd := &cobra.Command{
		Use:   "generate --type " + strings.Join(keys.GenerateTypes, "|") + " -o NAME",
		Short: "Create a signing key: NAME.pub and NAME.key",
		Long: `Create a signing key and write its public key to NAME.pub, as a TUF key
object that can be pasted into metadata, and its private key to NAME.key,
encrypted under a passphrase (mode 0600). The passphrase is taken from
RAMPART_PASSPHRASE, or asked for twice on the terminal. The key ID is printed.

Key types: ed25519, ecdsa (P-256), ecdsa-p384, ecdsa-p521 and rsa (3072 bits).

With --pkcs11-module and --token-label, the key is generated on a PKCS#11
token (a smart card, an HSM or SoftHSM) instead, and never leaves it: NAME.key
is then a reference to the key, usable wherever a key file is. The token's
user PIN is taken from RAMPART_PKCS11_PIN, or asked for on the terminal.
Tokens take ecdsa (the default there), ecdsa-p384 and rsa keys.`,
		Example: `  rampart key generate --type ed25519 -o root-1
  RAMPART_PKCS11_PIN=1234 rampart key generate --type ecdsa -o targets-1 \
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token-label rampart`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return usageErrorf("--output (-o) is required")
			}
			pubPath, keyPath, err := keyPaths(output, force)
			if err != nil {
				return err
			}
			var pk keys.PublicKey
			if p11.module != "" {
				if !cmd.Flags().Changed("type") {
					keyType = "ecdsa"
				}
				pk, err = generateOnToken(cmd, keyType, output, keyPath, force, &p11)
			} else {
				pk, err = generateToFile(cmd, keyType, scheme, keyPath, force)
			}
			if err != nil {
				return err
			}
			if err := keystore.WritePublic(pubPath, pk, force); err != nil {
				if p11.module == "" {
					os.Remove(keyPath)
				}
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s and %s.\n", pubPath, keyPath)
			fmt.Fprintln(cmd.OutOrStdout(), keystore.KeyID(pk))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyType, "type", "ed25519", "key type: "+strings.Join(keys.GenerateTypes, ", ")+" (on a PKCS#11 token: ecdsa, ecdsa-p384 or rsa)")
	cmd.Flags().StringVar(&scheme, "scheme", "", "signature scheme (default: the key type's usual scheme)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write NAME.pub and NAME.key")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing NAME.pub and NAME.key")
	p11.add(cmd, "CKA_ID to give the new key on the token, in hex (default: random)")
	return cmd
}

// generateToFile generates a key and writes it encrypted to keyPath,
// showing each step on standard error (argon2id takes a moment).
func generateToFile(cmd *cobra.Command, keyType, scheme, keyPath string, force bool) (keys.PublicKey, error) {
	if !slices.Contains(keys.GenerateTypes, keyType) {
		return keys.PublicKey{}, usageErrorf("--type %s: cannot generate %s keys; want one of %s", keyType, keyType, strings.Join(keys.GenerateTypes, ", "))
	}
	steps := progress.NewSteps(cmd.ErrOrStderr(), 2)
	steps.Start("generating " + article(keyType) + " " + keyType + " key")
	priv, err := keys.Generate(keyType)
	steps.Done(err)
	if err != nil {
		return keys.PublicKey{}, usageError{err}
	}
	pk, err := keys.PublicKeyFor(priv.Public(), scheme)
	if err != nil {
		return keys.PublicKey{}, usageError{err}
	}
	pass, err := keystore.EnvOrPromptNew(terminalIn(cmd), cmd.ErrOrStderr())(fmt.Sprintf("Passphrase for %s: ", keyPath))
	if err != nil {
		return keys.PublicKey{}, err
	}
	if len(pass) == 0 {
		return keys.PublicKey{}, errors.New("the passphrase is empty; choose one (or set " + keystore.EnvPassphrase + ")")
	}
	steps.Start("encrypting " + keyPath + " (argon2id)")
	err = keystore.WritePrivate(keyPath, priv, scheme, pass, force)
	steps.Done(err)
	if err != nil {
		return keys.PublicKey{}, err
	}
	return pk, nil
}

// article is "an" before a key type that is read with a vowel sound
// ("an ed25519 key", "an RSA key"), else "a".
func article(keyType string) string {
	if strings.HasPrefix(keyType, "e") || strings.HasPrefix(keyType, "rsa") {
		return "an"
	}
	return "a"
}

func generateOnToken(cmd *cobra.Command, keyType, output, keyPath string, force bool, p11 *pkcs11Flags) (keys.PublicKey, error) {
	k, err := p11.key(output)
	if err != nil {
		return keys.PublicKey{}, err
	}
	s, k, err := keystore.GeneratePKCS11(cmd.Context(), k, keyType, keystore.Prompt(terminalIn(cmd), cmd.ErrOrStderr(), false))
	if err != nil {
		return keys.PublicKey{}, err
	}
	defer s.Close()
	pk := s.PublicKey()
	if err := keystore.WritePKCS11Ref(keyPath, k, pk, force); err != nil {
		return keys.PublicKey{}, fmt.Errorf("%w (the key was created on the token with label %q and ID %s; import it with 'rampart key import-pkcs11')", err, k.KeyLabel, k.KeyID)
	}
	return pk, nil
}

func newKeyImportPKCS11Command() *cobra.Command {
	var (
		output string
		force  bool
		p11    pkcs11Flags
	)
	cmd := &cobra.Command{
		Use:   "import-pkcs11 --pkcs11-module M --token-label T --key-label L -o NAME",
		Short: "Use a key that is already on a PKCS#11 token",
		Long: `Find an existing key pair on a PKCS#11 token and write NAME.pub, its TUF key
object, and NAME.key, a reference to it that works wherever a key file does.
The key is found by its label and, if --key-id is given, its CKA_ID; exactly
one must match. The token's user PIN is taken from RAMPART_PKCS11_PIN, or
asked for on the terminal. The key ID is printed.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return usageErrorf("--output (-o) is required")
			}
			if p11.module == "" {
				return usageErrorf("--pkcs11-module is required")
			}
			if p11.label == "" {
				return usageErrorf("--key-label is required")
			}
			pubPath, keyPath, err := keyPaths(output, force)
			if err != nil {
				return err
			}
			k, err := p11.key(output)
			if err != nil {
				return err
			}
			s, err := keystore.OpenPKCS11(cmd.Context(), k, keystore.Prompt(terminalIn(cmd), cmd.ErrOrStderr(), false))
			if err != nil {
				return err
			}
			defer s.Close()
			pk := s.PublicKey()
			if err := keystore.WritePKCS11Ref(keyPath, k, pk, force); err != nil {
				return err
			}
			if err := keystore.WritePublic(pubPath, pk, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s and %s.\n", pubPath, keyPath)
			fmt.Fprintln(cmd.OutOrStdout(), keystore.KeyID(pk))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write NAME.pub and NAME.key")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing NAME.pub and NAME.key")
	p11.add(cmd, "CKA_ID of the existing key to import, in hex, when its label is not enough to find it (default: any key with --key-label)")
	return cmd
}

func newKeyIDCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "id FILE...",
		Short: "Print the key ID of public or private key files",
		Long: `Print the TUF key ID of each FILE, one a line: a NAME.pub file, a NAME.key
file (no passphrase is needed: the public key is stored in clear), or a PEM
public key or certificate.`,
		Args: checkArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, path := range args {
				pk, err := keystore.ReadPublic(path)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), keystore.KeyID(pk))
			}
			return nil
		},
	}
}

func newKeyChangePassphraseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "change-passphrase NAME.key",
		Short: "Re-encrypt a private key file under a new passphrase",
		Long: `Re-encrypt an encrypted private key file under a new passphrase, replacing
the file atomically. The current passphrase is taken from RAMPART_PASSPHRASE
and the new one from RAMPART_NEW_PASSPHRASE; each is asked for on the terminal
when its variable is not set (the new one twice).`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, errw := terminalIn(cmd), cmd.ErrOrStderr()
			newPass := func(prompt string) ([]byte, error) {
				var p []byte
				if v, ok := os.LookupEnv(envNewPassphrase); ok {
					p = []byte(v)
				} else {
					var err error
					if p, err = keystore.Prompt(in, errw, true)(prompt); errors.Is(err, keystore.ErrNoPassphrase) {
						return nil, errors.New("no new passphrase: set " + envNewPassphrase + " or run on a terminal")
					} else if err != nil {
						return nil, err
					}
				}
				if len(p) == 0 {
					return nil, errors.New("the new passphrase is empty")
				}
				return p, nil
			}
			if err := keystore.ChangePassphrase(args[0], keystore.EnvOrPrompt(in, errw), newPass); err != nil {
				return err
			}
			fmt.Fprintf(errw, "Changed the passphrase of %s.\n", args[0])
			return nil
		},
	}
}
