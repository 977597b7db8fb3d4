package query_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// shippedLists loads the repository's lists/ files. Tests run in their
// package's directory (also the cross-built ones under qemu, built with
// -trimpath, where runtime.Caller gives no usable path).
func shippedLists(tb testing.TB) *lists.Lists {
	tb.Helper()
	root := filepath.Join("..", "..", "lists")
	l, _, err := lists.Load([]string{filepath.Join(root, "domains_replace")}, []string{filepath.Join(root, "domains_ignore")})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// benchEngine opens a benchmark database read-only, as `pakon show`
// does, with the shipped lists.
func benchEngine(b *testing.B, shape string) *query.Engine {
	live, archive, rows, flows := MustBenchDB(b, shape)
	db, err := store.Open(context.Background(), live, store.Options{ReadOnly: true, ArchivePath: archive})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	b.Logf("%s shape: %d rows holding %d flows", shape, rows, flows)
	return query.New(db, query.Options{Lists: shippedLists(b), Now: func() time.Time { return benchEnd }})
}

// BenchmarkArchive runs the queries on the shape a router holds.
func BenchmarkArchive(b *testing.B) { benchQueries(b, benchEngine(b, shapeArchive)) }

// BenchmarkRaw runs them on four weeks of raw flows in the live database.
func BenchmarkRaw(b *testing.B) { benchQueries(b, benchEngine(b, shapeRaw)) }

// cpuTime returns the process's user+system CPU time: the machine may be
// shared, and CPU time per query is less disturbed by other load than
// wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f as the benchmark body and reports CPU ms per query next
// to the wall time.
func loop(b *testing.B, f func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
	}
}

func benchQueries(b *testing.B, e *query.Engine) {
	ctx := context.Background()
	day, weeks := benchEnd.Add(-24*time.Hour), benchEnd.Add(-benchDays*24*time.Hour)
	dev := benchMAC(0)
	flows := []struct {
		name string
		p    query.Params
	}{
		{"Device24h", query.Params{Start: day, Devices: []string{dev}}},
		{"Device24hByName", query.Params{Start: day, Devices: []string{"phone-0"}}},
		{"Page100/24h", query.Params{Start: day, Limit: 100}},
		{"Page100/24h/NoFilter", query.Params{Start: day, Limit: 100, NoFilter: true}},
		{"Page100/24h/Hostname", query.Params{Start: day, Hostnames: []string{"youtube.com"}, Limit: 100}},
		{"Page100/24h/SortBytes", query.Params{Start: day, Sort: query.SortBytes, Desc: true, Limit: 100}},
		{"Page100/24h/SortHostname", query.Params{Start: day, Sort: query.SortHostname, Limit: 100}},
		{"Page100/24h/LastPage", query.Params{Start: day, Limit: 100, Offset: 20000}},
		{"Page100/4w", query.Params{Start: weeks, Limit: 100}},
		{"Page100/4w/NoFilter", query.Params{Start: weeks, Limit: 100, NoFilter: true}},
		{"Page100/4w/Device", query.Params{Start: weeks, Devices: []string{dev}, Limit: 100}},
		{"Page100/4w/Hostname", query.Params{Start: weeks, Hostnames: []string{"facebook.com"}, Limit: 100}},
		{"Page100/4w/Port", query.Params{Start: weeks, DestPorts: []int{5228}, Limit: 100}},
		{"Page100/4w/App", query.Params{Start: weeks, AppProtos: []string{"quic"}, Limit: 100}},
		{"Page100/4w/SortBytes", query.Params{Start: weeks, Sort: query.SortBytes, Desc: true, Limit: 100}},
		{"Page100/4w/Newest", query.Params{Start: weeks, Desc: true, Limit: 100}},
		{"Page100/4w/Offset300k", query.Params{Start: weeks, Limit: 100, Offset: 300000}},
		{"Page100/Day2WeeksAgo", query.Params{Start: benchEnd.Add(-15 * 24 * time.Hour), End: benchEnd.Add(-14 * 24 * time.Hour), Limit: 100}},
	}
	for _, c := range flows {
		b.Run("Flows/"+c.name, func(b *testing.B) {
			rows := 0
			loop(b, func() {
				res, err := e.Flows(ctx, c.p)
				if err != nil {
					b.Fatal(err)
				}
				rows = len(res.Rows)
			})
			b.ReportMetric(float64(rows), "rows")
		})
	}
	aggs := []struct {
		name string
		p    query.Params
	}{
		{"4w", query.Params{Start: weeks}},
		{"4w/NoFilter", query.Params{Start: weeks, NoFilter: true}},
		{"4w/Hostname", query.Params{Start: weeks, Hostnames: []string{"google.com"}}},
		{"24h", query.Params{Start: day}},
		{"Device24h", query.Params{Start: day, Devices: []string{dev}}},
	}
	for _, c := range aggs {
		b.Run("Aggregate/"+c.name, func(b *testing.B) {
			rows := 0
			loop(b, func() {
				res, err := e.Aggregate(ctx, c.p)
				if err != nil {
					b.Fatal(err)
				}
				rows = res.Total
			})
			b.ReportMetric(float64(rows), "groups")
		})
	}
	b.Run("Devices/4w", func(b *testing.B) {
		loop(b, func() {
			if _, err := e.Devices(ctx, query.Params{Start: weeks}); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, c := range []struct {
		name string
		p    query.TopParams
	}{
		{"Hostnames/Bytes/4w", query.TopParams{Params: query.Params{Start: weeks}}},
		{"Devices/Bytes/4w", query.TopParams{Params: query.Params{Start: weeks}, By: query.ByDevice}},
		{"Hostnames/Time/24h", query.TopParams{Params: query.Params{Start: day}, Metric: query.MetricTime}},
		{"Hostnames/Time/4w", query.TopParams{Params: query.Params{Start: weeks}, Metric: query.MetricTime}},
		{"Devices/Time/4w", query.TopParams{Params: query.Params{Start: weeks}, By: query.ByDevice, Metric: query.MetricTime}},
	} {
		b.Run("Top/"+c.name, func(b *testing.B) {
			loop(b, func() {
				if _, err := e.Top(ctx, c.p); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	for _, c := range []struct {
		name string
		p    query.HistogramParams
	}{
		{"24h/Hour/ByDevice", query.HistogramParams{Params: query.Params{Start: day}, Bucket: time.Hour, By: query.ByDevice}},
		{"24h/5min/ByHostname", query.HistogramParams{Params: query.Params{Start: day}, Bucket: 5 * time.Minute, By: query.ByHostname}},
		{"4w/Day/ByDevice", query.HistogramParams{Params: query.Params{Start: weeks}, Bucket: 24 * time.Hour, By: query.ByDevice}},
		{"4w/Hour", query.HistogramParams{Params: query.Params{Start: weeks}, Bucket: time.Hour}},
	} {
		b.Run("Histogram/"+c.name, func(b *testing.B) {
			loop(b, func() {
				if _, err := e.Histogram(ctx, c.p); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
