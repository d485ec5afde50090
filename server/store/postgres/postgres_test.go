package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
	"github.com/rampart-tuf/rampart/server/store/storetest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pg.NewDatabase(t)) })
}

// TestMigrateTwice opens the same database from two stores at once, as two
// replicas starting together do.
func TestMigrateTwice(t *testing.T) {
	url := pg.NewDatabase(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := postgres.Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	open(t, url) // and once more, with nothing left to do
}

// TestOutage stops the database under an open store: calls fail with
// ErrUnavailable, and succeed again once it is back, without reopening.
func TestOutage(t *testing.T) {
	s := open(t, pg.NewDatabase(t))
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	pg.StopServer()
	restarted := false
	defer func() {
		if !restarted {
			pg.StartServer()
		}
	}()
	for _, call := range []func() error{
		func() error { return s.Ping(ctx) },
		func() error { _, err := s.Repo(ctx, "example.com/x"); return err },
		func() error {
			_, err := s.Publish(ctx, store.Update{Repo: store.Repo{GUN: "example.com/x"}})
			return err
		},
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("with the database down: got %v, want ErrUnavailable", err)
		}
	}
	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Repo(ctx, "example.com/x")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
