package signer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rampart-tuf/rampart/server/store/bolt"
)

func TestLocal(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret, err := LoadOrCreateSecret(filepath.Join(t.TempDir(), "secret"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(st, secret)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := l.Key(ctx, "example.com/a", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := l.Key(ctx, "example.com/a", "timestamp"); again.ID() != k1.ID() {
		t.Fatal("Key created a second key")
	}
	sig, err := For(l, "example.com/a", "timestamp", k1).Sign(ctx, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := k1.Verifier()
	if err := v.Verify([]byte("msg"), sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	k2, err := l.Rotate(ctx, "example.com/a", "timestamp")
	if err != nil || k2.ID() == k1.ID() {
		t.Fatalf("Rotate = %v, %v", k2, err)
	}
	ks, _ := l.Keys(ctx, "example.com/a", "timestamp")
	if len(ks) != 2 || ks[0].ID() != k2.ID() {
		t.Fatalf("Keys = %v", ks)
	}
	// Another server with a different secret cannot use the keys.
	other, _ := NewLocal(st, make([]byte, 32))
	if _, err := other.Sign(ctx, "example.com/a", "timestamp", k2.ID(), []byte("x")); err == nil {
		t.Fatal("signing with the wrong secret succeeded")
	}
	if _, err := l.Key(ctx, "example.com/a", "targets"); err == nil {
		t.Fatal("a targets key was created")
	}
}
