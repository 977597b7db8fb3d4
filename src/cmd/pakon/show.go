package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// ShowCommand queries stored flows, like PaKon's pakon-show, keeping its
// options and time syntax.
type ShowCommand struct {
	stdout, stderr io.Writer
	// now and loc are the clock and time zone for time arguments and the
	// table; nil means time.Now and time.Local (tests set them).
	now func() time.Time
	loc *time.Location
	// width overrides the terminal width when > 0 (tests).
	width int
}

// showOptions are the parsed command line.
type showOptions struct {
	cfgPath, dbPath, archivePath, dhcpPath, leasePath string
	start, end, sortKey, by, metric                   string
	macs, hosts, ports, protos, apps                  stringList
	aggregate, devices, active, noFilter, noArchive   bool
	jsonOut, csvOut                                   bool
	limit, offset, top                                int
	// Alerts (show_alerts.go).
	alerts, engine bool
	severities     stringList
	sids           stringList
	explain        int64
}

func (c *ShowCommand) flags(o *showOptions) *flag.FlagSet {
	fs := newFlagSet("show", c.stderr)
	fs.StringVar(&o.cfgPath, "c", config.DefaultPath, "UCI config `file`")
	fs.StringVar(&o.dbPath, "db", "", "live database `file` (default: the config's live_db)")
	fs.StringVar(&o.archivePath, "archive", "", "archive database `file` (default: the config's archive path, when it exists)")
	fs.BoolVar(&o.noArchive, "no-archive", false, "read the live database only")
	fs.StringVar(&o.dhcpPath, "dhcp-config", leases.DefaultDHCPConfig, "DHCP host names from this UCI `file` (\"\" for none)")
	fs.StringVar(&o.leasePath, "leases", "", "dnsmasq lease `file` (default: found from the DHCP config)")
	both := func(short, long string, f func(name string)) { f(short); f(long) }
	both("s", "start", func(n string) {
		fs.StringVar(&o.start, n, "", "flows running at or after `TIME`: dd-mm-yyyy, dd-mm-yyyyThh:mm:ss, -N (seconds), -Nm, -Nh, -Nd, -Nw, @EPOCH or now")
	})
	both("e", "end", func(n string) { fs.StringVar(&o.end, n, "", "flows running at or before `TIME`") })
	both("m", "mac", func(n string) {
		fs.Var(&o.macs, n, "only this device: a `MAC` address, an IP address or a device name; repeatable")
	})
	both("H", "hostname", func(n string) {
		fs.Var(&o.hosts, n, "only this `host`: example.com and its subdomains, =www.example.com exactly, or an IP address; repeatable")
	})
	both("p", "port", func(n string) {
		fs.Var(&o.ports, n, "only this destination `port` (number or name, e.g. https); repeatable")
	})
	fs.Var(&o.protos, "proto", "only this transport `protocol` (tcp, udp, icmp); repeatable")
	fs.Var(&o.apps, "app", "only this application `protocol` (tls, http, quic, …); repeatable")
	fs.BoolVar(&o.active, "active", false, "only flows still in progress")
	fs.BoolVar(&o.noFilter, "no-filter", false, "show everything, including hosts on the ignore list")
	both("A", "aggregate", func(n string) {
		fs.BoolVar(&o.aggregate, n, false, "one row per device, host, port and protocol, with sums")
	})
	both("D", "devices", func(n string) { fs.BoolVar(&o.devices, n, false, "one row per device, with sums") })
	fs.IntVar(&o.top, "top", 0, "rank the top `N` hosts (or devices, see --by) by bytes (or --metric)")
	fs.StringVar(&o.by, "by", query.ByHostname, "what --top ranks: `hostname` or device")
	fs.StringVar(&o.metric, "metric", query.MetricBytes, "what --top ranks by: `bytes`, time or flows")
	both("j", "json", func(n string) { fs.BoolVar(&o.jsonOut, n, false, `print JSON {"rows": [...], "total": N}`) })
	fs.BoolVar(&o.csvOut, "csv", false, "print CSV with a header row (RFC 4180)")
	both("n", "limit", func(n string) { fs.IntVar(&o.limit, n, 0, "show at most `N` rows (0: all)") })
	fs.IntVar(&o.offset, "offset", 0, "skip the first `N` rows")
	fs.StringVar(&o.sortKey, "sort", "", "sort by `KEY` ("+strings.Join(query.SortKeys(), ", ")+"); -KEY for descending")
	alertFlags(fs, o)
	return fs
}

// Run parses the options, queries and renders.
func (c *ShowCommand) Run(ctx context.Context, args []string) error {
	var o showOptions
	set := c.flags(&o)
	if err := parseFlags(set, args); err != nil {
		return err
	}
	if set.NArg() > 0 {
		return usagef("unexpected argument %q", set.Arg(0))
	}
	if o.alerts || o.explain != 0 {
		return c.runAlerts(ctx, &o)
	}
	if o.engine || len(o.severities) > 0 || len(o.sids) > 0 {
		return usagef("--engine, --severity and --sid need --alerts")
	}
	p, err := c.params(&o)
	if err != nil {
		return err
	}

	cfg, _, err := config.Load(o.cfgPath) // a missing file gives the defaults
	if err != nil {
		return err
	}
	eng, closeDB, err := c.open(ctx, cfg, &o)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := c.query(ctx, eng, p, &o); err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return usagef("%s: %s", flagOf(qe.Param), qe.Msg)
		}
		return err
	}
	return nil
}

// params checks the options and turns them into query parameters.
func (c *ShowCommand) params(o *showOptions) (query.Params, error) {
	var p query.Params
	modes := 0
	for _, on := range []bool{o.aggregate, o.devices, o.top != 0} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return p, usagef("-A, -D and --top exclude each other")
	case o.jsonOut && o.csvOut:
		return p, usagef("-j and --csv exclude each other")
	case o.limit < 0:
		return p, usagef("-n: negative limit %d", o.limit)
	case o.offset < 0:
		return p, usagef("--offset: negative offset %d", o.offset)
	case o.top < 0:
		return p, usagef("--top: negative count %d", o.top)
	}
	now, loc := c.clock()
	var err error
	if o.start != "" {
		if p.Start, err = cli.ParseTime(o.start, now, loc); err != nil {
			return p, usagef("-s: %v", err)
		}
	}
	if o.end != "" {
		if p.End, err = cli.ParseTime(o.end, now, loc); err != nil {
			return p, usagef("-e: %v", err)
		}
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		return p, usagef("-e: end %s is before start %s", p.End.In(loc).Format(time.DateTime), p.Start.In(loc).Format(time.DateTime))
	}
	p.Devices, p.Hostnames = o.macs, o.hosts
	for _, s := range o.ports {
		port, err := cli.ParsePort(s)
		if err != nil {
			return p, usagef("-p: %v", err)
		}
		p.DestPorts = append(p.DestPorts, port)
	}
	p.Protos, p.AppProtos = o.protos, o.apps
	p.Active, p.NoFilter = o.active, o.noFilter
	p.Limit, p.Offset = o.limit, o.offset
	if o.sortKey != "" {
		p.Sort, p.Desc = strings.CutPrefix(o.sortKey, "-")
	}
	return p, nil
}

func (c *ShowCommand) clock() (time.Time, *time.Location) {
	now, loc := time.Now(), time.Local
	if c.now != nil {
		now = c.now()
	}
	if c.loc != nil {
		loc = c.loc
	}
	return now, loc
}

// open opens the databases read-only (the archive too when it exists),
// the domain lists and the device name sources.
func (c *ShowCommand) open(ctx context.Context, cfg *config.Config, o *showOptions) (*query.Engine, func(), error) {
	dbPath := o.dbPath
	if dbPath == "" {
		dbPath = cfg.LiveDB
	}
	opts := store.Options{ReadOnly: true}
	switch {
	case o.noArchive:
	case o.archivePath != "":
		opts.ArchivePath = o.archivePath
	case cfg.ArchivePath != "":
		if _, err := os.Stat(cfg.ArchivePath); err == nil {
			opts.ArchivePath = cfg.ArchivePath
		}
	}
	db, err := store.Open(ctx, dbPath, opts)
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, nil, fmt.Errorf("no database at %s yet: is pakon daemon running? (or give -db FILE): %w", dbPath, err)
	}
	if err != nil {
		return nil, nil, err
	}
	l, warns, err := lists.Load(existing(cfg.ReplaceLists, config.DefaultReplaceList),
		existing(cfg.IgnoreLists, config.DefaultIgnoreList))
	if err != nil {
		// Without its lists pakon still shows everything, unmerged.
		fmt.Fprintf(c.stderr, "pakon show: %v; showing names as observed\n", err)
		l = nil
	}
	_ = warns // the daemon reports malformed list lines; the CLI stays quiet
	leasePath := o.leasePath
	if leasePath == "" && o.dhcpPath != "" {
		leasePath = leases.FindLeaseFile(o.dhcpPath)
	}
	names := leases.New(o.dhcpPath, leasePath)
	users := map[string]string{}
	for _, d := range cfg.Devices {
		users[d.MAC] = d.Name
	}
	names.SetUserNames(users)
	eng := query.New(db, query.Options{Lists: l, Names: names, Now: c.now})
	return eng, func() { db.Close() }, nil
}

func (c *ShowCommand) query(ctx context.Context, eng *query.Engine, p query.Params, o *showOptions) error {
	opts := cli.TableOptions{Width: c.width, Location: c.loc}
	if opts.Width == 0 {
		if f, ok := c.stdout.(*os.File); ok {
			opts.Width = cli.TerminalWidth(f)
		}
	}
	switch {
	case o.devices:
		res, err := eng.Devices(ctx, p)
		if err != nil {
			return err
		}
		switch {
		case o.jsonOut:
			return cli.WriteJSON(c.stdout, res)
		case o.csvOut:
			return cli.WriteDevicesCSV(c.stdout, res)
		}
		return cli.WriteDevicesTable(c.stdout, res, opts)
	case o.top > 0:
		res, err := eng.Top(ctx, query.TopParams{Params: p, By: o.by, Metric: o.metric, N: o.top})
		if err != nil {
			return err
		}
		switch {
		case o.jsonOut:
			return cli.WriteJSON(c.stdout, res)
		case o.csvOut:
			return cli.WriteTopCSV(c.stdout, res)
		}
		return cli.WriteTopTable(c.stdout, res, o.by, o.metric, opts)
	}
	get := eng.Flows
	if o.aggregate {
		get = eng.Aggregate
	}
	res, err := get(ctx, p)
	if err != nil {
		return err
	}
	switch {
	case o.jsonOut:
		return cli.WriteJSON(c.stdout, res)
	case o.csvOut:
		return cli.WriteCSV(c.stdout, res)
	case o.aggregate:
		return cli.WriteAggregateTable(c.stdout, res, opts)
	}
	return cli.WriteTable(c.stdout, res, opts)
}

// flagOf names the option behind a query parameter, for error messages.
func flagOf(param string) string {
	switch param {
	case "device":
		return "-m"
	case "hostname":
		return "-H"
	case "dest_port":
		return "-p"
	case "proto":
		return "--proto"
	case "app_proto":
		return "--app"
	case "start":
		return "-s"
	case "end":
		return "-e"
	case "limit":
		return "-n"
	case "n":
		return "--top"
	}
	return "--" + param
}

// existing drops the shipped list path when that file is not installed
// (a build run from the source tree), so that only lists the user named
// are reported missing.
func existing(paths []string, shipped string) []string {
	var out []string
	for _, p := range paths {
		if p == shipped {
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
