package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/intoto"
)

// inTotoFlags are the flags of 'client get --in-toto'.
type inTotoFlags struct {
	enabled bool
	opt     intoto.DownloadOptions
}

func (f *inTotoFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.enabled, "in-toto", false, "also verify the target's in-toto supply chain, fetched through TUF")
	stringsVar(fs, &f.opt.AllowInspections, "in-toto-allow-inspection", "", true, "run the layout inspection of this name (inspections run commands the layout names; any other is refused)")
	fs.StringVar(&f.opt.Product, "in-toto-product", "", "the target's name among the last step's products (default: the target path's base name)")
}

// get downloads the target with in-toto verification.
func (f *inTotoFlags) get(cmd *cobra.Command, c *client.Client, target, out string) error {
	res, err := intoto.Download(cmd.Context(), c, target, out, f.opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "downloaded %s (verified by TUF and in-toto: layout signed by %s, steps %s, sha256 %s) to %s\n",
		target, strings.Join(inTotoShortIDs(res.LayoutIDs), ", "), strings.Join(res.Steps, " -> "), res.SHA256, out)
	return nil
}

func inTotoShortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(8, len(id))]
	}
	return out
}
