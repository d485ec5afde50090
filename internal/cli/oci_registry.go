package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/oci/signature"
)

func fetchRegistry(cmd *cobra.Command, ref string, reg *registryFlags) (signature.Manifest, [][]byte, error) {
	return signature.Manifest{}, nil, errors.New("registry subjects are not supported yet")
}

func pushRegistry(cmd *cobra.Command, ref string, reg *registryFlags, sig []byte) error {
	return errors.New("registry subjects are not supported yet")
}
