package metadata_test

// BenchmarkTargets100k measures parsing and verifying a targets.json of
// 100,000 targets (about 15 MB), with Rampart and, on the same bytes, with
// go-tuf v2. Run:
//
//	go test -run '^$' -bench Targets100k -benchmem ./tuf/metadata/

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	gotuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

type bigRepo struct {
	rootBytes      []byte
	canonical      []byte // targets.json as Rampart writes it (canonical)
	goTUFFormatted []byte // the same document as go-tuf writes it with indentation
}

var (
	bigOnce sync.Once
	big     bigRepo
)

func loadBigRepo(b *testing.B) *bigRepo {
	bigOnce.Do(func() {
		ctx := context.Background()
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, err := keys.NewSigner(priv, "ed25519")
		if err != nil {
			b.Fatal(err)
		}
		root := metadata.NewRoot(interopExpiry)
		for _, r := range metadata.TopLevelRoles {
			_ = root.AddKey(r, metadata.NewKey(signer.PublicKey()))
		}
		rootMD := metadata.New(root)
		if _, err := rootMD.Sign(ctx, signer); err != nil {
			b.Fatal(err)
		}
		targets := metadata.NewTargets(interopExpiry)
		for i := range 100_000 {
			p := fmt.Sprintf("project-%06d/releases/v%d.%d.%d/artifact-%06d.tar.gz", i, i%7, i%11, i%13, i)
			targets.Targets[p] = metadata.NewTargetFile([]byte(p), false)
		}
		tmd := metadata.New(targets)
		if _, err := tmd.Sign(ctx, signer); err != nil {
			b.Fatal(err)
		}
		big.rootBytes, _ = rootMD.Encode()
		big.canonical, _ = tmd.Encode()
		// The same document written by go-tuf (members in struct order).
		g, err := gotuf.Targets().FromBytes(big.canonical)
		if err != nil {
			b.Fatal(err)
		}
		big.goTUFFormatted, err = g.ToBytes(true)
		if err != nil {
			b.Fatal(err)
		}
	})
	return &big
}

func BenchmarkTargets100k(b *testing.B) {
	repo := loadBigRepo(b)
	rampartRoot, err := metadata.ParseRoot(repo.rootBytes)
	if err != nil {
		b.Fatal(err)
	}
	goRoot, err := gotuf.Root().FromBytes(repo.rootBytes)
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"canonical", repo.canonical}, {"gotuf-pretty", repo.goTUFFormatted}} {
		b.Run("rampart/parse+verify/"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := metadata.ParseTargets(in.data)
				if err != nil {
					b.Fatal(err)
				}
				if err := rampartRoot.Signed.VerifyRole("targets", m); err != nil {
					b.Fatal(err)
				}
				if len(m.Signed.Targets) != 100_000 {
					b.Fatal("lost targets")
				}
			}
		})
		// What a client fetching one target needs: verify, then find one entry.
		b.Run("rampart/lazy-parse+verify+lookup/"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := metadata.ParseTargetsLazy(in.data)
				if err != nil {
					b.Fatal(err)
				}
				if err := rampartRoot.Signed.VerifyRole("targets", m); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := m.Signed.Lookup("project-050000/releases/v6.5.2/artifact-050000.tar.gz"); !ok || err != nil {
					b.Fatal("lookup failed", err)
				}
			}
		})
		b.Run("gotuf/parse/"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := gotuf.Targets().FromBytes(in.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("gotuf/verify/"+in.name, func(b *testing.B) {
			m, err := gotuf.Targets().FromBytes(in.data)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := goRoot.VerifyDelegate("targets", m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
