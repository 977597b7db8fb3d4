package hardening

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketDisconnectMidLine: Suricata goes away in the middle of a line
// and reconnects. The cut line is counted as rejected (not glued to the
// next connection's first line), and every whole line of both
// connections is recorded.
func TestSocketDisconnectMidLine(t *testing.T) {
	r := start(t)
	base := time.Now().Add(-time.Hour)
	first := []string{flowLine(1, 0, base), flowLine(2, 0, base), flowLine(3, 0, base)}
	half := flowLine(4, 0, base)
	c, err := net.Dial("unix", r.pk.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(strings.Join(first, "\n") + "\n" + half[:len(half)/2])); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.daemon.WaitLog(t, "EVE client disconnected", 1, 10*time.Second)
	// The next connection starts with the rest of the cut line: a
	// reconnecting Suricata does not resend it, so it is garbage here too.
	r.send(t, half[len(half)/2:], flowLine(5, 0, base), flowLine(6, 0, base), flowLine(7, 0, base))

	waitFor(t, 20*time.Second, "six flows", func() bool { return r.rows(t) == 6 })
	s := r.status(t)
	if s.Lines.Read != 8 || s.Lines.Rejected != 2 || s.Lines.Dropped != 0 {
		t.Errorf("status lines %+v, want 8 read (6 whole, 2 halves), 2 rejected", s.Lines)
	}
	for _, port := range []int{1025, 1026, 1027, 1029, 1030, 1031} {
		if n := r.rows(t, "-m", mac(0), "-H", fmt.Sprintf("198.51.100.%d", port-1024)); n != 1 {
			t.Errorf("flow from port %d: %d rows, want 1", port, n)
		}
	}
	if n := r.rows(t, "-H", "198.51.100.4"); n != 0 {
		t.Errorf("the cut flow was recorded (%d rows)", n)
	}
}

// TestReplayThroughSocket: the same EVE lines arrive twice on the socket
// (a Suricata restart replaying its output, a duplicated pipe). Each flow
// is stored once.
func TestReplayThroughSocket(t *testing.T) {
	r := start(t)
	base := time.Now().Add(-2 * time.Hour)
	var lines []string
	for i := range 50 {
		lines = append(lines, flowLine(i, i%3, base.Add(time.Duration(i)*time.Second)))
	}
	r.send(t, lines...)
	waitFor(t, 20*time.Second, "50 flows", func() bool { return r.rows(t) == 50 })
	r.send(t, lines...)
	waitFor(t, 20*time.Second, "the replay read", func() bool { return r.status(t).Lines.Read == 100 })
	// The replayed flows pass the hold (2 s) and a flush (1 s) before
	// they are written; give them that and more.
	time.Sleep(5 * time.Second)
	if n := r.rows(t); n != 50 {
		t.Errorf("%d rows after the replay, want 50", n)
	}
	res := r.pk.Show(t, "--no-filter", "-s", "@0", "-D")
	var bytes int64
	for _, row := range res.Rows {
		bytes += row.BytesSent
	}
	want := int64(0)
	for i := range 50 {
		want += int64(300 + i)
	}
	if bytes != want {
		t.Errorf("devices sum %d bytes sent, want %d (each flow once)", bytes, want)
	}
}

// TestClockJumps: Suricata's clock (EVE timestamps) jumps back a day and
// forward again while flows are open. Flows on either side of a jump keep
// their own times, are neither lost nor merged, and a flow open across
// both jumps is recorded once, complete.
func TestClockJumps(t *testing.T) {
	r := start(t)
	now := time.Now().Truncate(time.Second)
	periods := []time.Time{now.Add(-3 * time.Hour), now.Add(-27 * time.Hour), now.Add(-3*time.Hour + 10*time.Minute)}
	// A flow opens before the jump back and ends after the jump forward.
	const longDev = 5
	r.send(t, tlsLine(999, longDev, periods[0], "long.example.test"))
	id := 0
	for _, p := range periods {
		var lines []string
		for i := range 20 {
			lines = append(lines, flowLine(id, 0, p.Add(time.Duration(i)*time.Second)))
			id++
		}
		r.send(t, lines...)
	}
	end := periods[len(periods)-1].Add(time.Minute)
	r.send(t, strings.Replace(strings.Replace(flowLine(999, longDev, periods[0]), ts(periods[0].Add(2*time.Second)), ts(end), 1),
		ts(periods[0].Add(3*time.Second)), ts(end.Add(time.Second)), 1))

	waitFor(t, 20*time.Second, "61 flows", func() bool { return r.rows(t) == 61 })
	for i, p := range periods {
		n := r.rows(t, "-m", mac(0), "-s", fmt.Sprintf("@%d", p.Unix()), "-e", fmt.Sprintf("@%d", p.Add(30*time.Second).Unix()))
		if n != 20 {
			t.Errorf("period %d (%v): %d flows, want 20", i, p, n)
		}
	}
	long := r.pk.Show(t, "--no-filter", "-s", "@0", "-m", mac(longDev))
	if long.Total != 1 || long.Rows[0].Active || long.Rows[0].ObservedName != "long.example.test" ||
		int64(long.Rows[0].Start) != periods[0].Unix() || int64(long.Rows[0].End) != end.Unix() {
		t.Errorf("flow open across the jumps: %+v", long.Rows)
	}
}

// TestArchiveDiskFull fills the archive's file system (a 512 KiB tmpfs)
// while flows arrive. Ingest goes on in RAM, ubus status says the
// archive is full, and once space returns the flows kept in RAM reach the
// flash journal: a restart with an empty live database (a reboot) brings
// every one of them back.
func TestArchiveDiskFull(t *testing.T) {
	needRoot(t)
	flash := filepath.Join(t.TempDir(), "flash")
	if err := os.Mkdir(flash, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", flash).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(flash, syscall.MNT_DETACH) })
	archive := filepath.Join(flash, "archive.db")
	r := start(t, "option commit_interval '1s'", fmt.Sprintf("config archive 'archive'\n\toption path '%s'", archive))
	waitFor(t, 10*time.Second, "the first commit", func() bool { return r.status(t).LastCommit > 0 })

	// Fill the file system to the last block.
	filler := filepath.Join(flash, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			break
		}
	}
	f.Close()

	base := time.Now().Add(-time.Hour)
	const n = 300
	for b := 0; b < n; b += 100 {
		var lines []string
		for i := b; i < b+100; i++ {
			lines = append(lines, flowLine(i, i%4, base.Add(time.Duration(i)*time.Second)))
		}
		r.send(t, lines...)
	}
	waitFor(t, 20*time.Second, "flows ingested while the disk is full", func() bool { return r.rows(t) == n })
	var full status
	waitFor(t, 20*time.Second, "status to say the archive is full", func() bool {
		full = r.status(t)
		for _, e := range full.Errors {
			if strings.Contains(e, "archive storage full") {
				return true
			}
		}
		return false
	})
	if !strings.Contains(r.daemon.Logs(), "archive storage full") {
		t.Error("the log does not say the archive is full")
	}
	stuck := full.LastCommit

	// Space returns.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a commit after space returned", func() bool {
		s := r.status(t)
		return s.LastCommit > stuck && len(s.Errors) == 0
	})
	r.daemon.WaitLog(t, "archive storage works again", 1, 10*time.Second)
	if err := r.daemon.Stop(); err != nil {
		t.Fatal(err)
	}
	// A reboot empties the RAM: only what reached flash comes back.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(r.pk.LiveDB + suffix)
	}
	os.Remove(filepath.Join(r.pk.Dir, "snapshot.msgpack"))
	r.daemon = r.pk.StartDaemon(t)
	waitFor(t, 20*time.Second, "flows restored from flash", func() bool { return r.rows(t) == n })
	if logs := r.daemon.Logs(); strings.Contains(logs, "damaged_chunks=1") || strings.Contains(logs, "damaged_chunks=2") {
		t.Errorf("the journal has damaged chunks:\n%s", logs)
	}
}
