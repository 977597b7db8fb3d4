package query_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// A synthetic busy home for the benchmarks: 30 devices, four weeks,
// benchFlowsPerDay flows a day, written through store.Write like the
// daemon does.
const (
	benchDevices     = 30
	benchDays        = 28
	benchFlowsPerDay = 22000
	// benchGenVersion names the cached file; bump it when the generator
	// or the stored format changes (11: segment heads with maxima, PKS3).
	benchGenVersion = 11
)

// benchEnd is the end of the generated period: "now" for the benchmarks.
var benchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// benchMAC returns device i's MAC address.
func benchMAC(i int) string { return fmt.Sprintf("02:00:00:00:01:%02x", i) }

var benchKinds = []struct {
	name   string
	weight float64 // share of the day's flows
}{
	{"phone", 3}, {"phone", 3}, {"phone", 2.5}, {"phone", 2}, {"tablet", 2}, {"tablet", 1.5},
	{"laptop", 3}, {"laptop", 2.5}, {"laptop", 2}, {"desktop", 3}, {"tv", 2}, {"tv", 1},
	{"console", 1.5}, {"speaker", 0.5}, {"speaker", 0.5}, {"camera", 1}, {"camera", 1},
	{"thermostat", 0.2}, {"printer", 0.1}, {"nas", 1}, {"watch", 0.3}, {"ereader", 0.1},
	{"bulb", 0.1}, {"bulb", 0.1}, {"plug", 0.1}, {"vacuum", 0.2}, {"doorbell", 0.5},
	{"guest-phone", 0.8}, {"guest-laptop", 0.6}, {"work-laptop", 2},
}

// benchHosts is the pool of destinations: families of real-looking
// names (CDN nodes merged by domains_replace, ad and tracking names on
// domains_ignore), a long tail of small sites, and unnamed flows.
type benchHost struct {
	name     string
	ip       netip.Addr
	port     uint16
	proto    string // TCP or UDP
	app      string
	source   flow.Source
	size     float64 // median bytes received
	longLife bool    // persistent connections (push, MQTT)
}

func benchHostPool(r *rand.Rand) []benchHost {
	var hosts []benchHost
	add := func(name string, port uint16, proto, app string, size float64, long bool, weight int) {
		src := flow.SourceSNI
		switch {
		case name == "":
			src = flow.SourceNone
		case app == "http":
			src = flow.SourceHTTP
		case app == "quic":
			src = flow.SourceQUIC
		case app == "failed" || app == "":
			src = flow.SourceDNS
		}
		ip := netip.AddrFrom4([4]byte{byte(20 + r.IntN(200)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
		if r.IntN(4) == 0 {
			var b [16]byte
			b[0], b[1] = 0x2a, 0x00
			for i := 2; i < 16; i++ {
				b[i] = byte(r.IntN(256))
			}
			ip = netip.AddrFrom16(b)
		}
		for range weight {
			hosts = append(hosts, benchHost{name, ip, port, proto, app, src, size, long})
		}
	}
	for i := range 40 {
		add(fmt.Sprintf("rr%d---sn-2gb7sn7k.googlevideo.com", i+1), 443, "UDP", "quic", 8e6, false, 3)
	}
	for i := range 30 {
		add(fmt.Sprintf("scontent-prg1-%d.xx.fbcdn.net", i+1), 443, "TCP", "tls", 4e5, false, 2)
	}
	for i := range 60 {
		add(fmt.Sprintf("ipv4-c%03d-prg001-ix.1.oca.nflxvideo.net", i+1), 443, "TCP", "tls", 3e7, false, 1)
	}
	for _, n := range []string{"www.google.com", "fonts.gstatic.com", "www.googleapis.com", "i.ytimg.com",
		"www.youtube.com", "lh3.googleusercontent.com", "graph.facebook.com", "www.instagram.com",
		"api.spotify.com", "audio-ak-spotify-com.akamaized.net", "www.netflix.com", "api.twitter.com",
		"pbs.twimg.com", "gateway.icloud.com", "www.apple.com", "login.microsoftonline.com",
		"outlook.office365.com", "teams.microsoft.com", "www.amazon.com", "m.media-amazon.com",
		"discord.com", "cdn.discordapp.com", "www.reddit.com", "i.redd.it", "v16-webapp.tiktok.com",
		"www.wikipedia.org", "github.com", "api.github.com", "www.seznam.cz", "www.idnes.cz",
		"zoom.us", "us04web.zoom.us", "steamcommunity.com", "store.steampowered.com"} {
		add(n, 443, "TCP", "tls", 1e5, false, 8)
	}
	for _, n := range []string{"mtalk.google.com", "push.apple.com", "edge-mqtt.facebook.com"} {
		add(n, 5228, "TCP", "tls", 2e4, true, 4)
	}
	for _, n := range []string{"ad.doubleclick.net", "googleads.g.doubleclick.net", "app-measurement.com",
		"www.google-analytics.com", "ib.adnxs.com", "static.criteo.net", "connect.facebook.net",
		"bat.bing.com", "ocsp.digicert.com", "connectivitycheck.gstatic.com", "time.apple.com"} {
		add(n, 443, "TCP", "tls", 3e3, false, 10)
	}
	add("ocsp.pki.goog", 80, "TCP", "http", 2e3, false, 5)
	add("pool.ntp.org", 123, "UDP", "failed", 90, false, 4)
	add("xn--bcher-kva.example", 443, "TCP", "tls", 5e4, false, 1) // bücher.example
	add("203.0.113.7", 80, "TCP", "http", 1e4, false, 1)           // HTTP Host given as an address
	for i := range 2500 {
		add(fmt.Sprintf("www.site%d.example.%s", i, []string{"com", "cz", "org", "net"}[i%4]), 443, "TCP", "tls", 5e4, false, 1)
	}
	for range 300 {
		add("", 443, "TCP", "failed", 2e4, false, 1) // no name seen
	}
	for i := range 40 {
		add(fmt.Sprintf("cam%d.iot.example.net", i), 8883, "TCP", "tls", 5e3, true, 1)
	}
	return hosts
}

// Benchmark database shapes.
const (
	// shapeRaw keeps all four weeks raw in the live database, plus the
	// time and device indexes of the first schema: the worst case, a
	// store that never archived.
	shapeRaw = "raw"
	// shapeArchive is what a router holds: the same flows written to the
	// live database, then moved by store.Maintain with the default
	// archive rules into the day-partitioned, aggregated archive; the
	// last day stays raw in the live database.
	shapeArchive = "archive"
)

// MustBenchDB returns the paths of the benchmark database of a shape
// (archive is "" for shapeRaw), generating it once per machine: it is
// cached in the temp directory, or at $PAKON_BENCH_DIR. rows counts the
// stored rows, flows the flows they stand for.
func MustBenchDB(tb testing.TB, shape string) (live, archive string, rows, flows int64) {
	tb.Helper()
	dir := os.Getenv("PAKON_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	prefix := filepath.Join(dir, fmt.Sprintf("pakon-query-bench-v%d-%s", benchGenVersion, shape))
	live = prefix + ".db"
	if shape == shapeArchive {
		archive = prefix + "-archive.db"
	}
	ctx := context.Background()
	count := func() {
		db, err := store.Open(ctx, live, store.Options{ReadOnly: true, ArchivePath: archive})
		if err != nil {
			tb.Fatal(err)
		}
		defer db.Close()
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*), sum(flows) FROM "+store.AllFlows).Scan(&rows, &flows); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := os.Stat(prefix + ".done"); err == nil {
		// A database cached by an older build gets the current schema's
		// migrations, as the daemon would apply them.
		db, err := store.Open(ctx, live, store.Options{ArchivePath: archive, JournalDir: prefix + ".journal"})
		if err != nil {
			tb.Fatal(err)
		}
		db.Close()
		count()
		return live, archive, rows, flows
	}
	matches, _ := filepath.Glob(prefix + "*")
	for _, m := range matches {
		os.RemoveAll(m)
	}
	db, err := store.Open(ctx, live, store.Options{ArchivePath: archive, JournalDir: prefix + ".journal"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := generate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	switch shape {
	case shapeRaw:
		for _, q := range []string{"CREATE INDEX IF NOT EXISTS flows_end ON flows (end)",
			"CREATE INDEX IF NOT EXISTS flows_mac_end ON flows (mac, end)"} {
			if _, err := db.SQL().ExecContext(ctx, q); err != nil {
				tb.Fatal(err)
			}
		}
	case shapeArchive:
		var rules []store.Rule
		for _, r := range config.DefaultArchiveRules() {
			rules = append(rules, store.Rule{UpTo: r.UpTo, Window: r.Window, SizeThreshold: r.SizeThreshold})
		}
		if _, err := db.Maintain(ctx, benchEnd, store.Policy{Rules: rules, Keep: config.DefaultArchiveKeep}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	count()
	if err := os.WriteFile(prefix+".done", []byte(fmt.Sprintln(rows, flows)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return live, archive, rows, flows
}

func generate(ctx context.Context, db *store.DB) error {
	r := rand.New(rand.NewPCG(1, 2))
	// Popularity follows Zipf's law, as web traffic does: a few hosts
	// get most flows. One flow in ten has no name at all.
	var named, unnamed []benchHost
	for _, h := range benchHostPool(r) {
		if h.name == "" {
			unnamed = append(unnamed, h)
		} else {
			named = append(named, h)
		}
	}
	r.Shuffle(len(named), func(i, j int) { named[i], named[j] = named[j], named[i] })
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(named)-1))
	var weights []float64
	total := 0.0
	for _, k := range benchKinds[:benchDevices] {
		total += k.weight
		weights = append(weights, total)
	}
	var b store.Batch
	for i := range benchDevices {
		b.Devices = append(b.Devices, flow.DeviceSeen{
			MAC: benchMAC(i), IP: netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + i)}),
			Hostname: fmt.Sprintf("%s-%d", benchKinds[i].name, i), At: eve.Timestamp(benchEnd.Add(-benchDays * 24 * time.Hour).UnixMicro()),
		})
	}
	start := benchEnd.Add(-benchDays * 24 * time.Hour)
	id := uint64(1)
	for day := range benchDays {
		for range benchFlowsPerDay {
			// Busier evenings, quiet nights.
			var sec float64
			for {
				sec = r.Float64() * 86400
				hour := sec / 3600
				if r.Float64() < 0.25+0.75*math.Max(0, math.Sin((hour-6)/18*math.Pi)) {
					break
				}
			}
			t0 := start.Add(time.Duration(day)*24*time.Hour + time.Duration(sec*float64(time.Second)))
			dev := 0
			x := r.Float64() * total
			for dev < len(weights)-1 && weights[dev] < x {
				dev++
			}
			h := named[zipf.Uint64()]
			if r.IntN(10) == 0 {
				h = unnamed[r.IntN(len(unnamed))]
			}
			dur := math.Exp(r.NormFloat64()*1.5 + 1.5) // median ~4.5 s
			if h.longLife {
				dur = 600 + r.Float64()*14400
			}
			if h.size > 1e6 {
				dur = 30 + r.Float64()*1800
			}
			recv := int64(h.size * math.Exp(r.NormFloat64()))
			sent := int64(float64(recv)*0.05) + 300 + int64(r.IntN(2000))
			t1 := t0.Add(time.Duration(dur * float64(time.Second)))
			if t1.After(benchEnd) {
				t1 = benchEnd
			}
			rec := flow.Record{
				FlowID: id, Start: eve.Timestamp(t0.UnixMicro()), End: eve.Timestamp(t1.UnixMicro()),
				MAC: benchMAC(dev), SrcIP: netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + dev)}),
				SrcPort: uint16(32768 + r.IntN(28000)), DestIP: h.ip, DestPort: h.port, Proto: h.proto,
				AppProto: h.app, Name: h.name, Source: h.source, BytesSent: uint64(sent), BytesReceived: uint64(recv),
				PktsSent: uint64(sent/1200 + 2), PktsReceived: uint64(recv/1200 + 2),
			}
			id++
			b.Updates = append(b.Updates, flow.Update{Record: rec})
			if len(b.Updates) >= 4096 {
				if err := db.Write(ctx, &b); err != nil {
					return err
				}
				b.Reset()
			}
		}
	}
	return db.Write(ctx, &b)
}
