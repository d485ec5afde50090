// Command publish creates a small repository on a running `rampart serve`:
// it fetches the server's online keys, builds and signs root and targets,
// and posts them, for benchmarks and manual tries:
//
//	publish -url http://127.0.0.1:8080 -gun example.com/app [-token T]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func main() {
	base := flag.String("url", "", "server base URL")
	gun := flag.String("gun", "example.com/app", "repository name")
	token := flag.String("token", "", "bearer token (none with --insecure-no-auth)")
	flag.Parse()
	if err := run(*base, *gun, *token); err != nil {
		log.Fatal(err)
	}
}

func request(method, url, token string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, out)
	}
	return out, nil
}

func onlineKey(base, gun, role, token string) (*metadata.Key, error) {
	data, err := request("GET", base+"/api/v1/repositories/"+gun+"/keys/"+role, token, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Key struct {
			KeyType string `json:"keytype"`
			Scheme  string `json:"scheme"`
			KeyVal  struct {
				Public string `json:"public"`
			} `json:"keyval"`
		} `json:"key"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return metadata.NewKey(keys.PublicKey{Type: out.Key.KeyType, Scheme: out.Key.Scheme, Value: out.Key.KeyVal.Public}), nil
}

func newSigner() (keys.Signer, error) {
	priv, err := keys.Generate("ed25519")
	if err != nil {
		return nil, err
	}
	return keys.NewSigner(priv, "")
}

func run(base, gun, token string) error {
	ctx := context.Background()
	expires := time.Now().Add(365 * 24 * time.Hour)
	rootKey, err := newSigner()
	if err != nil {
		return err
	}
	targetsKey, err := newSigner()
	if err != nil {
		return err
	}
	root := metadata.NewRoot(expires)
	root.AddKey("root", metadata.NewKey(rootKey.PublicKey()))
	root.AddKey("targets", metadata.NewKey(targetsKey.PublicKey()))
	if _, err := request("POST", base+"/api/v1/repositories/"+gun, token, nil); err != nil {
		return err
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		k, err := onlineKey(base, gun, role, token)
		if err != nil {
			return err
		}
		root.AddKey(role, k)
	}
	targets := metadata.NewTargets(expires)
	targets.Targets["hello.txt"] = metadata.NewTargetFile([]byte("hello\n"), false)
	encode := func(md interface {
		Sign(context.Context, keys.Signer) (metadata.Signature, error)
		Encode() ([]byte, error)
	}, s keys.Signer) (json.RawMessage, error) {
		if _, err := md.Sign(ctx, s); err != nil {
			return nil, err
		}
		return md.Encode()
	}
	rootJSON, err := encode(metadata.New(root), rootKey)
	if err != nil {
		return err
	}
	targetsJSON, err := encode(metadata.New(targets), targetsKey)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"roles": map[string]json.RawMessage{"root": rootJSON, "targets": targetsJSON}})
	out, err := request("POST", base+"/api/v1/repositories/"+gun+"/metadata", token, body)
	if err != nil {
		return err
	}
	fmt.Printf("published %s: %s\n", gun, bytes.TrimSpace(out))
	return nil
}
