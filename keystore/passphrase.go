package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// PassphraseFunc returns a passphrase or PIN. The prompt says what it is
// for, for example "Passphrase for root.key: ".
type PassphraseFunc func(prompt string) ([]byte, error)

// Environment variables read by this package.
const (
	// EnvPassphrase holds the passphrase of encrypted key files.
	EnvPassphrase = "RAMPART_PASSPHRASE"
	// EnvPKCS11PIN holds the user PIN of PKCS#11 tokens.
	EnvPKCS11PIN = "RAMPART_PKCS11_PIN"
)

// ErrNoPassphrase is returned by the functions of EnvOrPrompt when there is
// no way to get a passphrase.
var ErrNoPassphrase = errors.New("no passphrase: set " + EnvPassphrase + " or run on a terminal")

// EnvOrPrompt returns a PassphraseFunc that returns the value of
// RAMPART_PASSPHRASE if it is set, and otherwise prompts as Prompt does.
// PKCS#11 PINs are never taken from RAMPART_PASSPHRASE: this package reads
// them from RAMPART_PKCS11_PIN, and asks a PassphraseFunc for one with a
// prompt starting "PIN for PKCS#11 token", which EnvOrPrompt always asks on
// the terminal.
func EnvOrPrompt(stdin *os.File, stderr io.Writer) PassphraseFunc {
	return envOr(EnvPassphrase, Prompt(stdin, stderr, false))
}

// EnvOrPromptNew is EnvOrPrompt for choosing a new passphrase: when it
// prompts, it asks twice and fails if the answers differ.
func EnvOrPromptNew(stdin *os.File, stderr io.Writer) PassphraseFunc {
	return envOr(EnvPassphrase, Prompt(stdin, stderr, true))
}

func envOr(name string, f PassphraseFunc) PassphraseFunc {
	return func(prompt string) ([]byte, error) {
		if v, ok := os.LookupEnv(name); ok && !IsPINPrompt(prompt) {
			return []byte(v), nil
		}
		return f(prompt)
	}
}

// Prompt returns a PassphraseFunc that writes the prompt to stderr and reads
// a line from stdin without echo; with confirm, it asks twice and fails if
// the answers differ. If stdin is nil or not a terminal, it fails with
// ErrNoPassphrase at once rather than read from it.
func Prompt(stdin *os.File, stderr io.Writer, confirm bool) PassphraseFunc {
	return func(prompt string) ([]byte, error) {
		p1, err := promptTerminal(stdin, stderr, prompt)
		if err != nil || !confirm {
			return p1, err
		}
		p2, err := promptTerminal(stdin, stderr, "Repeat: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p1, p2) {
			return nil, errors.New("the passphrases do not match")
		}
		return p1, nil
	}
}

func promptTerminal(stdin *os.File, stderr io.Writer, prompt string) ([]byte, error) {
	if stdin == nil || !term.IsTerminal(int(stdin.Fd())) {
		return nil, ErrNoPassphrase
	}
	if stderr == nil {
		stderr = io.Discard
	}
	fmt.Fprint(stderr, prompt)
	p, err := term.ReadPassword(int(stdin.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	return p, nil
}

// pinPrompt starts the prompts for PKCS#11 PINs.
const pinPrompt = "PIN for PKCS#11 token "

// IsPINPrompt reports whether a prompt given to a PassphraseFunc asks for a
// PKCS#11 PIN rather than a key file's passphrase, so that a PassphraseFunc
// that reuses an earlier passphrase can avoid offering it as a PIN (tokens
// lock after a few wrong PINs).
func IsPINPrompt(prompt string) bool { return strings.HasPrefix(prompt, pinPrompt) }

// pin returns the PIN of a PKCS#11 token: RAMPART_PKCS11_PIN if set, else
// what pass returns.
func pin(pass PassphraseFunc, token string) ([]byte, error) {
	if v, ok := os.LookupEnv(EnvPKCS11PIN); ok {
		return []byte(v), nil
	}
	if pass == nil {
		return nil, fmt.Errorf("no PIN for PKCS#11 token %q: set %s", token, EnvPKCS11PIN)
	}
	p, err := pass(fmt.Sprintf("%s%q: ", pinPrompt, token))
	if errors.Is(err, ErrNoPassphrase) {
		return nil, fmt.Errorf("no PIN for PKCS#11 token %q: set %s or run on a terminal", token, EnvPKCS11PIN)
	}
	return p, err
}
