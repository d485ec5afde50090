package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "Show roles, versions, expiry and signatures",
		Long: `Show every role of the repository in DIR: version, expiry, signatures
present and missing, and number of targets. Warnings name roles below their
threshold, expired, or with less than a fifth of their expiry period left.
Hashed bins are summarised, and listed only when they need attention.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				st, err := r.Status(cmd.Context())
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				if st.Server != nil {
					fmt.Fprintf(out, "Publishes to %s as %s\n", st.Server.URL, st.Server.GUN)
				}
				fmt.Fprintf(out, "Target content: %s\n\n", contentModeText(st.Content))
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tVERSION\tEXPIRES\tSIGNATURES\tTARGETS\tMISSING KEYS")
				for _, rs := range st.Roles {
					exp := rs.Expires.Format("2006-01-02") + " (in " + rs.ExpiresIn + ")"
					if rs.Expired {
						exp = rs.Expires.Format("2006-01-02") + " (EXPIRED)"
					} else if rs.ExpiresSoon {
						exp += " !"
					}
					targets := "-"
					if rs.Name != "root" && rs.Name != "snapshot" && rs.Name != "timestamp" {
						targets = strconv.Itoa(rs.Targets)
					}
					var missing []string
					for _, k := range rs.Missing {
						m := k.ID[:12]
						if k.File != "" {
							m += " (" + k.File + ")"
						}
						missing = append(missing, m)
					}
					version, sigs := strconv.FormatInt(rs.Version, 10), fmt.Sprintf("%d/%d", len(rs.Signed), rs.Threshold)
					if rs.SignedByServer {
						version, exp, sigs, missing = "-", "-", "by server", nil
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rs.Name, version, exp, sigs, targets, strings.Join(missing, ", "))
				}
				tw.Flush()
				if b := st.Bins; b != nil {
					fmt.Fprintf(out, "\n%d hashed bins (%s-*): %s, %d below threshold, earliest expiry %s\n",
						b.Count, b.Prefix, plural(b.Targets, "target"), b.BelowThreshold, b.EarliestExpiry.Format("2006-01-02"))
				}
				if len(st.Warnings) > 0 {
					fmt.Fprintln(out, "\nWarnings:")
					for _, w := range st.Warnings {
						fmt.Fprintf(out, "  %s\n", strings.ReplaceAll(w, "\n", "\n  "))
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
