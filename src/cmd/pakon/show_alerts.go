package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/query"
)

func alertFlags(fs *flag.FlagSet, o *showOptions) {
	fs.BoolVar(&o.alerts, "alerts", false, "show Suricata's alerts (folded per rule, device, host and day) instead of flows")
	fs.BoolVar(&o.engine, "engine", false, "with --alerts: Suricata's own anomaly alerts (decoder, stream) instead of threat rules")
	fs.Var(&o.severities, "severity", "with --alerts: only this `severity` (1 high, 2 medium, 3 low, 4 info, or the word); repeatable")
	fs.Var(&o.sids, "sid", "with --alerts: only this signature `id`; repeatable")
	fs.Int64Var(&o.explain, "explain", 0, "explain the alert with this `ID` (the ID column of --alerts): rule text, classification, references, flows")
}

// severityOf reads a severity number or word.
func severityOf(s string) (int, error) {
	for n, w := range []string{"high", "medium", "low", "info"} {
		if strings.EqualFold(s, w) || (w == "info" && strings.EqualFold(s, "informational")) {
			return n + 1, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 255 {
		return 0, errors.New("want 1-4 or high, medium, low, info")
	}
	return n, nil
}

// runAlerts lists or explains alerts with the flow options that apply:
// -s, -e, -m, -H, -j, --csv, -n, --offset and --sort.
func (c *ShowCommand) runAlerts(ctx context.Context, o *showOptions) error {
	if o.aggregate || o.devices || o.top != 0 || o.active || len(o.ports) > 0 || len(o.protos) > 0 || len(o.apps) > 0 {
		return usagef("--alerts does not go with -A, -D, --top, --active, -p, --proto or --app")
	}
	var ap query.AlertParams
	fp, err := c.params(&showOptions{start: o.start, end: o.end, limit: o.limit, offset: o.offset, jsonOut: o.jsonOut, csvOut: o.csvOut})
	if err != nil {
		return err
	}
	ap.Start, ap.End, ap.Limit, ap.Offset = fp.Start, fp.End, fp.Limit, fp.Offset
	ap.Devices, ap.Hostnames, ap.Engine = o.macs, o.hosts, o.engine
	for _, s := range o.severities {
		n, err := severityOf(s)
		if err != nil {
			return usagef("--severity %q: %v", s, err)
		}
		ap.Severities = append(ap.Severities, n)
	}
	for _, s := range o.sids {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return usagef("--sid %q: want a signature id", s)
		}
		ap.SIDs = append(ap.SIDs, n)
	}
	if o.sortKey != "" {
		ap.Sort, ap.Desc = strings.CutPrefix(o.sortKey, "-")
		if !slices.Contains(query.AlertSortKeys(), ap.Sort) {
			return usagef("--sort: unknown key %q for alerts (want one of %s)", ap.Sort, strings.Join(query.AlertSortKeys(), ", "))
		}
	}
	cfg, _, err := config.Load(o.cfgPath)
	if err != nil {
		return err
	}
	eng, closeDB, err := c.open(ctx, cfg, o)
	if err != nil {
		return err
	}
	defer closeDB()
	opts := cli.TableOptions{Width: c.width, Location: c.loc}
	if opts.Width == 0 {
		if f, ok := c.stdout.(*os.File); ok {
			opts.Width = cli.TerminalWidth(f)
		}
	}
	if o.explain != 0 {
		x, err := eng.Explain(ctx, o.explain, newCatalog(cfg))
		if err != nil {
			var qe *query.Error
			if errors.As(err, &qe) {
				return usagef("--explain: %s", qe.Msg)
			}
			return err
		}
		if o.jsonOut {
			return cli.WriteJSON(c.stdout, x)
		}
		return cli.WriteExplanation(c.stdout, x, opts)
	}
	res, err := eng.Alerts(ctx, ap)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return usagef("%s: %s", flagOf(qe.Param), qe.Msg)
		}
		return err
	}
	switch {
	case o.jsonOut:
		return cli.WriteJSON(c.stdout, res)
	case o.csvOut:
		return cli.WriteAlertsCSV(c.stdout, res)
	}
	return cli.WriteAlertsTable(c.stdout, res, opts)
}
