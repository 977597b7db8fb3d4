package query_test

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// MustOpenDB opens a fresh database file in a temp dir.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "pakon.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustIngest feeds an EVE file through the real pipeline (decode,
// correlate, batched store writes), as `pakon import` does.
func MustIngest(tb testing.TB, db *store.DB, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	pipe := ingest.New(db, ingest.Options{Flow: flow.Options{SkipDNS: true, SkipUnidirectional: true}})
	done := make(chan error, 1)
	go func() { done <- pipe.Run(context.Background()) }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := pipe.Put(context.Background(), sc.Bytes()); err != nil {
			tb.Fatal(err)
		}
	}
	pipe.CloseInput()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if s := pipe.Stats(); s.LinesRejected > 0 {
		tb.Fatalf("%s: %d lines rejected: %s", path, s.LinesRejected, s.LastError)
	}
}

// MustWrite writes flow records through store.Write.
func MustWrite(tb testing.TB, db *store.DB, recs ...flow.Record) {
	tb.Helper()
	b := &store.Batch{}
	for _, r := range recs {
		b.Updates = append(b.Updates, flow.Update{Record: r})
	}
	if err := db.Write(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
}

// MustLists writes list files and loads them.
func MustLists(tb testing.TB, replace, ignore string) *lists.Lists {
	tb.Helper()
	dir := tb.TempDir()
	rp, ip := filepath.Join(dir, "replace"), filepath.Join(dir, "ignore")
	if err := os.WriteFile(rp, []byte(replace), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(ip, []byte(ignore), 0o644); err != nil {
		tb.Fatal(err)
	}
	l, warns, err := lists.Load([]string{rp}, []string{ip})
	if err != nil || len(warns) > 0 {
		tb.Fatalf("load lists: %v %v", err, warns)
	}
	return l
}

// at is a point in the crafted test timeline: base + sec seconds.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return base.Add(time.Duration(sec * float64(time.Second))) }

func ts(sec float64) eve.Timestamp { return eve.Timestamp(at(sec).UnixMicro()) }

// rec is a crafted flow of device mac to name over [start, end] seconds
// after base.
func rec(id uint64, mac string, start, end float64, name string, sent, received uint64) flow.Record {
	src := flow.SourceSNI
	if name == "" {
		src = flow.SourceNone
	}
	last := byte(id)
	return flow.Record{
		FlowID: id, Start: ts(start), End: ts(end), MAC: mac,
		SrcIP: netip.MustParseAddr("192.168.1.10"), SrcPort: uint16(40000 + id),
		DestIP: netip.AddrFrom4([4]byte{198, 51, 100, last}), DestPort: 443, Proto: "TCP", AppProto: "tls",
		Name: name, Source: src, BytesSent: sent, BytesReceived: received,
	}
}

// fixed returns a clock stuck at t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// mustFlows runs Flows and fails the test on error.
func mustFlows(tb testing.TB, e *query.Engine, p query.Params) *query.Result {
	tb.Helper()
	res, err := e.Flows(context.Background(), p)
	if err != nil {
		tb.Fatalf("Flows(%+v): %v", p, err)
	}
	return res
}

func mustAggregate(tb testing.TB, e *query.Engine, p query.Params) *query.Result {
	tb.Helper()
	res, err := e.Aggregate(context.Background(), p)
	if err != nil {
		tb.Fatalf("Aggregate(%+v): %v", p, err)
	}
	return res
}

// hostnames lists the rows' hostnames in order.
func hostnames(res *query.Result) []string {
	out := []string{}
	for _, r := range res.Rows {
		out = append(out, r.Hostname)
	}
	return out
}
