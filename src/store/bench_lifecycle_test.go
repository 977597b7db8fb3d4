package store_test

import (
	"fmt"
	"math"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// writeBytes is this process's write_bytes from /proc/self/io: bytes it
// caused to be sent to the storage layer, counted when pages are dirtied.
// tmpfs has no storage layer, so with the live database on /dev/shm it
// counts the archive and journal alone.
func writeBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Skip("no /proc/self/io")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	tb.Skip("no write_bytes")
	return 0
}

// home simulates a busy home: 30 devices, each with a few hundred hosts of
// Zipf-like popularity, flows in bursts (a page load opens several), some
// long streams, many small flows (telemetry, keep-alives).
type home struct {
	rng   *rand.Rand
	names []string
	next  uint64
}

func (h *home) day(day time.Time, perDevice int) []flow.Update {
	var out []flow.Update
	for d := range 30 {
		mac := fmt.Sprintf("02:00:00:00:00:%02x", d)
		src := netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + d)})
		n := 0
		for n < perDevice {
			// A burst: one host, 1-8 flows within a minute.
			host := int(math.Min(float64(len(h.names)-1), h.rng.ExpFloat64()*float64(len(h.names))/12))
			host = (host + d*37) % len(h.names)
			at := day.Add(time.Duration(h.rng.Int63n(int64(24 * time.Hour))))
			burst := 1 + h.rng.Intn(8)
			for range burst {
				h.next++
				start := at.Add(time.Duration(h.rng.Intn(60_000)) * time.Millisecond)
				dur := time.Duration(h.rng.ExpFloat64()*20_000) * time.Millisecond
				size := int64(math.Exp(h.rng.NormFloat64()*2.2 + 8.5)) // median ~5 KB, long tail
				port, proto, app := uint16(443), "TCP", "tls"
				switch h.rng.Intn(20) {
				case 0:
					port, app = 80, "http"
				case 1:
					port, proto, app = 443, "UDP", "quic"
				case 2:
					port, app = 5223, ""
				}
				out = append(out, flow.Update{Record: flow.Record{
					FlowID: h.next, Start: eve.Timestamp(start.UnixMicro()), End: eve.Timestamp(start.Add(dur).UnixMicro()),
					MAC: mac, SrcIP: src, SrcPort: uint16(32768 + h.rng.Intn(28000)),
					DestIP:   netip.AddrFrom4([4]byte{203, byte(host >> 8), byte(host), byte(h.rng.Intn(4))}),
					DestPort: port, Proto: proto, AppProto: app, Name: h.names[host], Source: flow.SourceSNI,
					BytesSent: uint64(size/5 + 300), BytesReceived: uint64(size), PktsSent: uint64(3 + size/5000), PktsReceived: uint64(3 + size/1400),
				}})
				n++
			}
		}
	}
	return out
}

// BenchmarkFourWeeks runs four weeks of a busy home through the real
// lifecycle (live writes, hourly Commit and Maintain with the shipped
// rules and keep 4w) on a fast clock, and reports what reached the
// archive's storage. Run with:
//
//	go test ./src/store -run '^$' -bench FourWeeks -benchtime 1x
func BenchmarkFourWeeks(b *testing.B) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		b.Skip("needs /dev/shm (tmpfs) for the live database")
	}
	ramDir, err := os.MkdirTemp("/dev/shm", "pakon-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(ramDir)
	flash := b.TempDir()
	archive := filepath.Join(flash, "archive.db")
	db, err := store.Open(ctx, filepath.Join(ramDir, "live.db"), store.Options{ArchivePath: archive})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	h := &home{rng: rand.New(rand.NewSource(42))}
	for i := range 6000 {
		h.names = append(h.names, fmt.Sprintf("svc%d.example%d.com", i, i%97))
	}
	p := store.Policy{Rules: rules(), Keep: 28 * 24 * time.Hour, LiveMaxRows: 3_000_000, ArchiveMaxRows: 10_000_000}
	// PAKON_BENCH_DAYS runs longer than four weeks, into expiry.
	days, perDevice := 28, 700
	if v, err := strconv.Atoi(os.Getenv("PAKON_BENCH_DAYS")); err == nil && v > 14 {
		days = v
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var flows, journalBytes, commitBytes, maintainBytes int64
	var perDay []float64
	b.ResetTimer()
	for d := range days {
		ups := h.day(start.AddDate(0, 0, d), perDevice)
		flows += int64(len(ups))
		// Hand flows out hour by hour, as they end.
		byHour := make([][]flow.Update, 24)
		for _, u := range ups {
			hr := min(23, max(0, int(u.Record.End.Time().Sub(start.AddDate(0, 0, d)).Hours())))
			byHour[hr] = append(byHour[hr], u)
		}
		before := writeBytes(b)
		for hr := range 24 {
			if err := db.Write(ctx, &store.Batch{Updates: byHour[hr]}); err != nil {
				b.Fatal(err)
			}
			w0 := writeBytes(b)
			if _, err := db.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			w1 := writeBytes(b)
			now := start.AddDate(0, 0, d).Add(time.Duration(hr+1) * time.Hour)
			if _, err := db.Maintain(ctx, now, p); err != nil {
				b.Fatal(err)
			}
			commitBytes += w1 - w0
			maintainBytes += writeBytes(b) - w1
		}
		perDay = append(perDay, float64(writeBytes(b)-before))
		if d == 0 {
			files, _ := filepath.Glob(filepath.Join(archive+".journal", "*.log"))
			for _, f := range files {
				st, _ := os.Stat(f)
				journalBytes += st.Size()
			}
			b.ReportMetric(float64(journalBytes)/float64(len(ups)), "journal-B/flow")
		}
	}
	b.StopTimer()
	var sum, steady float64
	for i, v := range perDay {
		sum += v
		if i >= 14 {
			steady += v
		}
	}
	st, _ := os.Stat(archive)
	var rows, stored int64
	db.SQL().QueryRow("SELECT count(*), sum(flows) FROM archive.flows").Scan(&rows, &stored)
	b.ReportMetric(float64(flows)/float64(days), "flows/day")
	b.ReportMetric(sum/float64(days)/(1<<20), "MiB-written/day")
	b.ReportMetric(steady/float64(days-14)/(1<<20), "MiB-written/day-steady")
	b.ReportMetric(float64(commitBytes)/float64(days)/(1<<20), "MiB-commit/day")
	b.ReportMetric(float64(maintainBytes)/float64(days)/(1<<20), "MiB-maintain/day")
	b.ReportMetric(float64(st.Size())/(1<<20), "archive-MiB")
	b.ReportMetric(float64(st.Size())/float64(rows), "archive-B/row")
	b.ReportMetric(float64(st.Size())/float64(stored), "archive-B/flow")
	b.ReportMetric(float64(rows), "archive-rows")
	b.ReportMetric(float64(stored), "archive-flows")
}
