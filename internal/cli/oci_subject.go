package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/oci/signature"
)

// maxManifest bounds a manifest read from a file, standard input or a
// registry.
const maxManifest = 4 << 20

// subject is what "oci sign" and "oci verify" act on: a manifest file
// (path "-" for standard input) or a registry reference.
type subject struct {
	path string // file:PATH
	ref  string // registry reference, without scheme

	remote *registrySubject // once fetched
}

// parseSubject reads SUBJECT; with no argument it is standard input when
// stdinDefault.
func parseSubject(args []string, stdinDefault bool) (*subject, error) {
	if len(args) == 0 {
		if !stdinDefault {
			return nil, nil
		}
		return &subject{path: "-"}, nil
	}
	s := args[0]
	if p, ok := strings.CutPrefix(s, "file:"); ok {
		if p == "" {
			return nil, usageErrorf("SUBJECT %q: no path after file:", s)
		}
		return &subject{path: p}, nil
	}
	for _, scheme := range []string{"docker://", "oci://"} {
		if r, ok := strings.CutPrefix(s, scheme); ok {
			s = r
			break
		}
	}
	if _, err := signature.Host(s); err != nil {
		return nil, usageErrorf("SUBJECT: %v; for a file write file:PATH", err)
	}
	return &subject{ref: s}, nil
}

func (s *subject) String() string {
	if s.ref != "" {
		return s.ref
	}
	if s.path == "-" {
		return "standard input"
	}
	return "file:" + s.path
}

// fetch reads the manifest and describes it.
func (s *subject) fetch(cmd *cobra.Command, reg *registryFlags) (signature.Manifest, error) {
	if s.ref != "" {
		m, r, err := fetchRegistry(cmd, s.ref, reg)
		s.remote = r
		return m, err
	}
	var data []byte
	var err error
	if s.path == "-" {
		data, err = readAllLimited(cmd.InOrStdin(), "standard input", maxManifest)
	} else {
		data, err = readLimited(s.path, maxManifest)
	}
	if err != nil {
		return signature.Manifest{}, err
	}
	if len(data) == 0 {
		return signature.Manifest{}, errors.New(s.String() + " is empty: no manifest")
	}
	return signature.Describe(data, reg.mediaType), nil
}

// push stores a signature next to a fetched registry subject.
func (s *subject) push(cmd *cobra.Command, sig []byte) error {
	if s.remote == nil {
		return usageErrorf("--push needs a registry SUBJECT, not %s", s)
	}
	return s.remote.push(cmd, sig)
}
