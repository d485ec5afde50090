package cli

import (
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/oci/remote"
	"github.com/rampart-tuf/rampart/oci/signature"
)

// registrySubject is a manifest fetched from a registry.
type registrySubject struct {
	repo *remote.Repository
	desc ocispec.Descriptor
}

func (f *registryFlags) options() remote.Options {
	return remote.Options{Username: f.username, Password: f.password, Insecure: f.insecure}
}

// fetchRegistry fetches the manifest ref names.
func fetchRegistry(cmd *cobra.Command, ref string, reg *registryFlags) (signature.Manifest, *registrySubject, error) {
	repo, err := remote.Open(ref, reg.options())
	if err != nil {
		return signature.Manifest{}, nil, err
	}
	desc, data, err := repo.Manifest(cmd.Context())
	if err != nil {
		return signature.Manifest{}, nil, err
	}
	return signature.Describe(data, desc.MediaType), &registrySubject{repo: repo, desc: desc}, nil
}

// push stores a signature next to the manifest.
func (r *registrySubject) push(cmd *cobra.Command, sig []byte) error {
	desc, err := r.repo.PushSignature(cmd.Context(), r.desc, sig)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Pushed the signature of %s (%s) as %s\n", r.repo, r.desc.Digest, desc.Digest)
	return nil
}

// signatures returns the signatures stored next to the manifest.
func (r *registrySubject) signatures(cmd *cobra.Command) ([][]byte, error) {
	return r.repo.Signatures(cmd.Context(), r.desc)
}
