package quickstart

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), &out, dir, false, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"1. Create a repository",
		"argon2id",
		"   [1/4] generating and encrypting the root key...\n   [2/4] generating and encrypting the targets key...\n" +
			"   [3/4] generating and encrypting the snapshot key...\n   [4/4] generating and encrypting the timestamp key...\n2. Add",
		"   [1/2] generating and encrypting the root key...\n   [2/2] generating and encrypting the targets key...\n",
		"3. Publish",
		"releases/app-1.0.tgz (34 bytes) verified",
		"the client refused it",
		"hash mismatch",
		`got hello.txt = "hello again\n"`,
		"8. Start rampart's metadata server",
		"1 target uploaded,\n   the server signed snapshot v1 and timestamp v1",
		"10. Client: fetch releases/app-1.0.tgz from the server",
		"ok:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %d entries behind", len(entries))
	}
}
