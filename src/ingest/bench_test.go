package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eve/evetest"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

// BenchmarkPipeline measures decode + correlation + batched SQLite writes
// over a realistic stream of 30 devices. Run it on one core:
//
//	taskset -c 0 go test -run XXX -bench Pipeline -cpu 1 -benchtime 1000000x ./src/ingest
func BenchmarkPipeline(b *testing.B) {
	data, ends := benchStream(b.N)
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := ingest.New(db, ingest.Options{})
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime()
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	ctx := context.Background()
	start0 := 0
	for _, end := range ends {
		if err := p.Put(ctx, data[start0:end]); err != nil {
			b.Fatal(err)
		}
		start0 = end
	}
	p.CloseInput()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	b.StopTimer()
	s := p.Stats()
	if s.LinesRejected != 0 || s.Events != uint64(b.N) {
		b.Fatalf("stats %+v", s)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	// CPU time counts every thread (SQLite runs on cgo threads), so this is
	// the rate one core sustains even when the machine is busy.
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(s.Flow.Records), "flows")
	b.ReportMetric(float64(s.ActiveWritten), "active-rows")
}

// benchStream is BenchmarkPipeline's stream of n lines, in one flat
// buffer with the offsets of the lines' ends, so that the garbage
// collector has no millions of line pointers to scan (a daemon holds no
// such thing); the garbage of building it is collected before it returns.
func benchStream(n int) (data []byte, ends []int) {
	for _, l := range evetest.New(30, 1, time.Unix(1_700_000_000, 0)).Lines(n)[:n] {
		data = append(data, l...)
		ends = append(ends, len(data))
	}
	runtime.GC()
	return data, ends
}

// BenchmarkPipelineStream only builds BenchmarkPipeline's stream, as it
// does before its timer starts: its instructions (valgrind) are what to
// subtract from BenchmarkPipeline's for the pipeline's own.
func BenchmarkPipelineStream(b *testing.B) {
	data, ends := benchStream(b.N)
	b.ReportMetric(float64(len(data))/float64(len(ends)), "bytes/line")
}

// BenchmarkPipelineWrites measures the store's share of BenchmarkPipeline:
// the same stream is decoded and correlated before the timer starts, into
// batches of ingest.DefaultBatchSize lines, and only their writes are
// timed. The correlator's wall clock stands still, so the batches are the
// same however slowly the setup runs (under valgrind, say).
//
//	taskset -c 0 go test -run XXX -bench PipelineWrites -cpu 1 -benchtime 300000x ./src/ingest
func BenchmarkPipelineWrites(b *testing.B) {
	lines := evetest.New(30, 1, time.Unix(1_700_000_000, 0)).Lines(b.N)[:b.N]
	now := time.Unix(1_700_000_000, 0)
	corr := flow.New(flow.Options{Now: func() time.Time { return now }})
	dec := eve.Decoder{Lean: true, Reuse: true}
	var ev eve.Event
	var batches []*store.Batch
	flows, lastDrain := 0, 0
	drain := func(i int, final bool) {
		bt := &store.Batch{}
		bt.Updates = corr.Drain(nil, final)
		bt.Devices = corr.TakeDevices()
		bt.Alerts = corr.DrainAlerts(nil, final)
		flows += len(bt.Updates)
		batches = append(batches, bt)
		lastDrain = i
	}
	for i, l := range lines {
		if err := dec.Decode(l, &ev); err != nil {
			b.Fatal(err)
		}
		corr.Handle(&ev)
		if i+1-lastDrain == ingest.DefaultBatchSize {
			drain(i+1, false)
		}
	}
	drain(len(lines), true)
	lines = nil
	runtime.GC()
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	cpuStart, sysStart := cpuTime(), sysTime()
	for _, bt := range batches {
		if err := db.Write(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	cpu, sys := cpuTime()-cpuStart, sysTime()-sysStart
	b.StopTimer()
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(flows), "cpu-ns/update")
	// The kernel's part: WAL writes, checkpoints, pages read back.
	b.ReportMetric(float64(sys.Nanoseconds())/float64(flows), "sys-ns/update")
	b.ReportMetric(float64(flows), "updates")
}

// BenchmarkOpenFlowsRSS reports the process's resident memory while the
// pipeline tracks 100,000 open flows (flows whose end has not been seen).
// Run it with the garbage collector set as pakon daemon sets it by default
// (GOGC 50, monitor.memory_limit 40M):
//
//	GOGC=50 GOMEMLIMIT=40MiB go test -run XXX -bench OpenFlowsRSS -benchtime 1x ./src/ingest
func BenchmarkOpenFlowsRSS(b *testing.B) {
	const open = 100_000
	for range b.N {
		g := evetest.New(30, 2, time.Unix(1_700_000_000, 0))
		g.KeepOpen = true
		db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		p := ingest.New(db, ingest.Options{})
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- p.Run(ctx) }()
		var buf [][]byte
		for p.Stats().Flow.Open < open {
			buf = g.Next(buf[:0])
			for _, l := range buf {
				if err := p.Put(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
			if p.Stats().Events%10000 == 0 {
				time.Sleep(time.Millisecond) // let Stats catch up
			}
		}
		time.Sleep(1500 * time.Millisecond) // a flush: active rows written
		runtime.GC()

		if path := os.Getenv("PAKON_HEAP_PROFILE"); path != "" {
			// What holds the memory, at the moment it is measured.
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		b.ReportMetric(float64(rssBytes(b))/(1<<20), "RSS-MiB")
		// Anonymous memory (Go heap, SQLite's page caches) apart from file
		// pages mapped and touched (the binary, memory-mapped databases).
		b.ReportMetric(float64(statusBytes(b, "RssAnon:"))/(1<<20), "anon-MiB")
		b.ReportMetric(float64(statusBytes(b, "RssFile:"))/(1<<20), "file-MiB")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(p.Stats().Flow.Open), "open-flows")
		cancel()
		<-done
		db.Close()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sysTime is the process's CPU time in the kernel.
func sysTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

func rssBytes(tb testing.TB) int64 { return statusBytes(tb, "VmRSS:") }

// statusBytes reads one of /proc/self/status's sizes.
func statusBytes(tb testing.TB, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
