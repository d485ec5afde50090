//go:build !cgo

package keystore

import (
	"context"
	"errors"
	"testing"
)

func TestNoPKCS11WithoutCgo(t *testing.T) {
	k := PKCS11Key{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", KeyLabel: "k"}
	if _, err := OpenPKCS11(context.Background(), k, nil); !errors.Is(err, ErrNoPKCS11) {
		t.Errorf("OpenPKCS11: %v, want ErrNoPKCS11", err)
	}
	if _, _, err := GeneratePKCS11(context.Background(), k, "ecdsa", nil); !errors.Is(err, ErrNoPKCS11) {
		t.Errorf("GeneratePKCS11: %v, want ErrNoPKCS11", err)
	}
}
