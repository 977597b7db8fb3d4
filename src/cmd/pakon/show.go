package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// ShowCommand queries stored flows, like PaKon's pakon-show.
type ShowCommand struct {
	stdout, stderr io.Writer
	now            func() time.Time
}

// Run parses the options, queries and renders.
func (c *ShowCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("show", c.stderr)
	var (
		cfgPath, dbPath, start, end, sortKey string
		jsonOut, csvOut, noFilter            bool
		limit, offset                        int
		macs                                 stringList
	)
	fs.StringVar(&cfgPath, "c", "/etc/config/pakon", "UCI config `file`")
	fs.StringVar(&dbPath, "db", "", "database `file` (default: the config's live_db)")
	for _, n := range []string{"s", "start"} {
		fs.StringVar(&start, n, "", "show flows running at or after `TIME` (dd-mm-yyyy[Thh:mm:ss], -N[mhdw], @EPOCH, now)")
	}
	for _, n := range []string{"e", "end"} {
		fs.StringVar(&end, n, "", "show flows running at or before `TIME`")
	}
	for _, n := range []string{"m", "mac"} {
		fs.Var(&macs, n, "only this device (`MAC`); repeatable")
	}
	for _, n := range []string{"j", "json"} {
		fs.BoolVar(&jsonOut, n, false, "print JSON {\"rows\": [...], \"total\": N}")
	}
	fs.BoolVar(&csvOut, "csv", false, "print CSV with a header row")
	fs.BoolVar(&noFilter, "no-filter", false, "show everything, including hidden (ignored) domains")
	for _, n := range []string{"n", "limit"} {
		fs.IntVar(&limit, n, 0, "show at most `N` rows")
	}
	fs.IntVar(&offset, "offset", 0, "skip the first `N` rows")
	fs.StringVar(&sortKey, "sort", "", "sort by `KEY` ("+strings.Join(query.SortKeys(), ", ")+"); prefix - for descending")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if jsonOut && csvOut {
		return usagef("-j and --csv exclude each other")
	}
	if limit < 0 || offset < 0 {
		return usagef("limit and offset must not be negative")
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	p := query.Params{Limit: limit, Offset: offset}
	var err error
	if start != "" {
		if p.From, err = cli.ParseTime(start, now(), time.Local); err != nil {
			return usagef("-s: %v", err)
		}
	}
	if end != "" {
		if p.To, err = cli.ParseTime(end, now(), time.Local); err != nil {
			return usagef("-e: %v", err)
		}
	}
	if !p.From.IsZero() && !p.To.IsZero() && p.To.Before(p.From) {
		return usagef("end %s is before start %s", p.To.Format(time.RFC3339), p.From.Format(time.RFC3339))
	}
	for _, m := range macs {
		mac, err := config.NormalizeMAC(m)
		if err != nil {
			return usagef("-m: invalid MAC address %q", m)
		}
		p.MACs = append(p.MACs, mac)
	}
	if sortKey != "" {
		p.Sort, p.Desc = strings.CutPrefix(sortKey, "-")
		if _, ok := sortKeySet()[p.Sort]; !ok {
			return usagef("--sort: unknown key %q (want one of %s)", p.Sort, strings.Join(query.SortKeys(), ", "))
		}
	}
	_ = noFilter // domain lists are applied by the query engine (issue #3)

	cfg, warns, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	_ = warns // the daemon reports config warnings; the CLI stays quiet
	if dbPath == "" {
		dbPath = cfg.LiveDB
	}
	db, err := store.Open(ctx, dbPath, store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrNoDatabase) {
		return errors.New("no database at " + dbPath + " yet: is pakon daemon running, or give -db FILE")
	}
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := query.Flows(ctx, db, p)
	if err != nil {
		return err
	}
	switch {
	case jsonOut:
		return cli.WriteJSON(c.stdout, res)
	case csvOut:
		return cli.WriteCSV(c.stdout, res)
	}
	return cli.WriteTable(c.stdout, res, cli.TableOptions{Width: terminalWidth()})
}

func sortKeySet() map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range query.SortKeys() {
		m[k] = struct{}{}
	}
	return m
}

// terminalWidth reads $COLUMNS; 0 lets the renderer choose.
func terminalWidth() int {
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return n
}
