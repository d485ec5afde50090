//go:build !cgo

package keystore

import (
	"context"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

func openPKCS11(context.Context, PKCS11Key, keys.PublicKey, PassphraseFunc) (Signer, error) {
	return nil, ErrNoPKCS11
}

func generatePKCS11(_ context.Context, k PKCS11Key, _ string, _ PassphraseFunc) (Signer, PKCS11Key, error) {
	return nil, k, ErrNoPKCS11
}

func destroyPKCS11(context.Context, PKCS11Key, PassphraseFunc) error { return ErrNoPKCS11 }
