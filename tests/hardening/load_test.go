package hardening

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve/evetest"
)

// TestLoadBounded streams a home network's EVE (evetest, 30 devices) at
// PAKON_LOAD_RATE events/s (default 5000) through the daemon's socket
// for PAKON_LOAD_DURATION (default 20s; the published run is 10m, see
// docs/performance.md), while one more device opens TLS flows that never
// end at PAKON_FLOOD_RATE/s (default 4000; a scan or worm). It samples
// the daemon's RSS and status every second and asserts boundedness by
// the counters, never by time: open flows within MaxOpen, the flooding
// device held at its per-device limit and named in status, the other
// devices' flows still recorded during the flood, the DNS history and
// flooding report within their bounds. PAKON_LOAD_RSS names a CSV file
// for the samples; PAKON_LOAD_LIVE_LIMIT sets monitor.database_limit.
//
//	PAKON_LOAD_DURATION=10m go test -run TestLoadBounded -timeout 30m -v ./tests/hardening
func TestLoadBounded(t *testing.T) {
	duration := envDuration(t, "PAKON_LOAD_DURATION", 20*time.Second)
	rate := envInt(t, "PAKON_LOAD_RATE", 5000)
	floodRate := envInt(t, "PAKON_FLOOD_RATE", 4000)
	opts := []string{"option commit_interval '60s'"}
	if v := os.Getenv("PAKON_LOAD_LIVE_LIMIT"); v != "" {
		// A low monitor.database_limit makes maintenance move the
		// oldest day to the archive early, under load.
		opts = append(opts, fmt.Sprintf("option database_limit '%s'", v))
	}
	r := start(t, opts...)
	pid := r.daemon.PID()

	conn, err := net.Dial("unix", r.pk.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriterSize(conn, 256<<10)
	startAt := time.Now().Add(-time.Hour)
	gen := evetest.New(30, 7, startAt)
	const flooder = "02:00:00:00:66:66"
	floodID := uint64(9_000_000_000)

	var csv strings.Builder
	csv.WriteString("elapsed_s,rss_kib,rss_anon_kib,rss_file_kib,wal_kib,events,dropped,open_flows,device_capped,recorded,dns_answers\n")
	var buf [][]byte
	sent, flood := 0, 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	nextSample := began.Add(time.Second)
	var firstRSS, maxRSS int64
	var recordedAtFloodStart uint64
	for time.Since(began) < duration {
		<-tick.C
		for n := 0; n < rate/10; {
			buf = gen.Next(buf[:0])
			for _, l := range buf {
				w.Write(l)
				w.WriteByte('\n')
			}
			n += len(buf)
			sent += len(buf)
		}
		for range floodRate / 10 {
			floodID++
			fmt.Fprintf(w, `{"timestamp":%q,"flow_id":%d,"event_type":"tls","src_ip":"192.168.9.66","src_port":%d,"dest_ip":"198.51.100.%d","dest_port":443,"proto":"TCP","tls":{"sni":"scan.test"},"ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"}}`+"\n",
				ts(startAt.Add(time.Since(began))), floodID, 1024+floodID%60000, floodID%250, flooder)
			flood++
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("write to the EVE socket: %v", err)
		}
		if now := time.Now(); now.After(nextSample) {
			nextSample = nextSample.Add(time.Second)
			s := r.status(t)
			rss := rssKiB(t, pid)
			anon, file := rssPartsKiB(t, pid)
			if firstRSS == 0 && now.Sub(began) > duration/4 {
				firstRSS = rss // after the warm-up
			}
			maxRSS = max(maxRSS, rss)
			l := s.Raw["limits"].(map[string]any)
			if recordedAtFloodStart == 0 {
				recordedAtFloodStart = s.Flows.Recorded
			}
			var wal int64
			if st, err := os.Stat(r.pk.LiveDB + "-wal"); err == nil {
				wal = st.Size() >> 10
			}
			fmt.Fprintf(&csv, "%.0f,%d,%d,%d,%d,%d,%d,%v,%v,%d,%v\n", now.Sub(began).Seconds(), rss, anon, file, wal, s.Lines.Read, s.Lines.Dropped,
				l["open_flows"], l["device_capped"], s.Flows.Recorded, l["dns_answers"])
		}
	}
	if p := os.Getenv("PAKON_LOAD_RSS"); p != "" {
		os.WriteFile(p, []byte(csv.String()), 0o644)
	}
	waitFor(t, 60*time.Second, "the daemon to read everything", func() bool {
		return r.status(t).Lines.Read >= uint64(sent+flood)
	})
	s := r.status(t)
	var lim struct {
		OpenFlows, MaxOpen, MaxPerDevice int
		DeviceCapped                     uint64
		DNSAnswers                       int
		Flooding                         []struct {
			Device string
			Capped uint64
			Open   int
		}
	}
	raw := s.Raw["limits"].(map[string]any)
	lim.OpenFlows, lim.MaxOpen, lim.MaxPerDevice = int(raw["open_flows"].(float64)), int(raw["max_open"].(float64)), int(raw["max_per_device"].(float64))
	lim.DeviceCapped, lim.DNSAnswers = uint64(raw["device_capped"].(float64)), int(raw["dns_answers"].(float64))
	for _, f := range raw["flooding"].([]any) {
		m := f.(map[string]any)
		lim.Flooding = append(lim.Flooding, struct {
			Device string
			Capped uint64
			Open   int
		}{m["device"].(string), uint64(m["capped"].(float64)), int(m["open"].(float64))})
	}
	t.Logf("sent %d lines + %d flood lines in %v; status lines %+v, recorded %d; limits %+v; RSS after warm-up %d KiB, max %d KiB",
		sent, flood, duration, s.Lines, s.Flows.Recorded, lim, firstRSS, maxRSS)
	t.Logf("samples:\n%s", csv.String())
	var storage []string
	for _, l := range strings.Split(r.daemon.Logs(), "\n") {
		if strings.Contains(l, "archive maintained") || strings.Contains(l, "level=ERROR") {
			storage = append(storage, l)
		}
	}
	t.Logf("daemon's storage log:\n%s", strings.Join(storage, "\n"))

	if lim.OpenFlows > lim.MaxOpen || lim.MaxPerDevice >= lim.MaxOpen {
		t.Errorf("open flows %d, bound %d, per device %d", lim.OpenFlows, lim.MaxOpen, lim.MaxPerDevice)
	}
	// flow.DefaultMaxDNSAnswers plus the sixteenth allowed between sweeps.
	if lim.DNSAnswers > 200_000+200_000/16 {
		t.Errorf("DNS history holds %d answers", lim.DNSAnswers)
	}
	if len(lim.Flooding) > 16 {
		t.Errorf("%d flooding devices reported", len(lim.Flooding))
	}
	// Lines dropped at a full queue (a slow or busy machine) are dropped
	// from both streams alike; judge by what the daemon took.
	taken := 1 - float64(s.Lines.Dropped)/float64(max(s.Lines.Read, 1))
	for _, f := range lim.Flooding {
		if f.Open > lim.MaxPerDevice {
			t.Errorf("device %s holds %d open flows, limit %d", f.Device, f.Open, lim.MaxPerDevice)
		}
	}
	if float64(flood)*taken > 1.2*float64(lim.MaxPerDevice) {
		if lim.DeviceCapped == 0 || len(lim.Flooding) == 0 || lim.Flooding[0].Device != flooder ||
			lim.Flooding[0].Open > lim.MaxPerDevice {
			t.Errorf("the flood (%d flows) was not capped at %d: %+v", flood, lim.MaxPerDevice, lim)
		}
		named := false
		for _, e := range s.Errors {
			named = named || strings.Contains(e, flooder)
		}
		if !named || !strings.Contains(r.daemon.Logs(), "flood rate") {
			t.Errorf("the flooding device is not named in status errors %q or the log", s.Errors)
		}
	}
	// The others were recorded all along: their flows end (evetest
	// ends all but the last 64), the flood's never do.
	if want := uint64(float64(sent) * taken / 6); s.Flows.Recorded < recordedAtFloodStart+want {
		t.Errorf("%d flows recorded (from %d at the start), want at least %d more", s.Flows.Recorded, recordedAtFloodStart, want)
	}
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

func envInt(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

func rssKiB(t testing.TB, pid int) int64 { return procStatusKiB(t, pid, "VmRSS") }

// rssPartsKiB splits the resident set into the process's own memory
// (heap, stacks, SQLite's page caches) and the pages of files it maps
// (the binary, and the databases SQLite memory-maps for queries), which
// the kernel can take back.
func rssPartsKiB(t testing.TB, pid int) (anon, file int64) {
	return procStatusKiB(t, pid, "RssAnon"), procStatusKiB(t, pid, "RssFile") + procStatusKiB(t, pid, "RssShmem")
}

// procStatusKiB reads one kB field of /proc/PID/status.
func procStatusKiB(t testing.TB, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
