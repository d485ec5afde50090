package keystore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
)

// TestDerivedKeys: the key files one Encrypter wrote are opened with one
// derivation; a file with its own salt needs its own; a wrong passphrase
// still fails after the right one worked; Clear overwrites the keys.
func TestDerivedKeys(t *testing.T) {
	dir := t.TempDir()
	enc, err := NewEncrypter([]byte("right passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var paths []string
	for _, name := range []string{"a", "b", "c"} {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		p := filepath.Join(dir, name+".key")
		if err := enc.WritePrivate(p, priv, "", false); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherPath := filepath.Join(dir, "other.key")
	if err := WritePrivate(otherPath, other, "", []byte("right passphrase"), false); err != nil {
		t.Fatal(err)
	}
	pass := func(p string) PassphraseFunc { return func(string) ([]byte, error) { return []byte(p), nil } }

	var d DerivedKeys
	for _, p := range paths {
		s, err := LoadWith(context.Background(), p, pass("right passphrase"), &d)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		s.Close()
	}
	if len(d.m) != 1 {
		t.Fatalf("three files of one Encrypter took %d derivations, want 1", len(d.m))
	}
	if _, err := LoadWith(context.Background(), otherPath, pass("right passphrase"), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.m) != 2 {
		t.Fatalf("a file with its own salt: %d derivations in all, want 2", len(d.m))
	}
	if _, err := LoadWith(context.Background(), paths[0], pass("wrong passphrase"), &d); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase after the right one: %v", err)
	}
	var held [][]byte
	for _, e := range d.m {
		held = append(held, e.key)
	}
	d.Clear()
	for _, k := range held {
		for _, b := range k {
			if b != 0 {
				t.Fatal("Clear left a derived key in memory")
			}
		}
	}
	if _, err := LoadWith(context.Background(), paths[1], pass("right passphrase"), &d); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
}
