package lifecycle

import (
	"fmt"
	"testing"
	"time"
)

// alertLine is an IDS alert of one rule on the device, on one of 20
// flows, at event time at.
func alertLine(n int, at time.Time) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"alert","src_ip":"192.168.1.10","src_port":%d,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"alert":{"action":"allowed","gid":1,"signature_id":9400001,"rev":1,"signature":"PAKON TEST replay","category":"A Network Trojan was detected","severity":1}}`,
		ts(at), 7000+n%20, 30000+n%20, mac)
}

// TestKillDoesNotCountAlertsTwice kills the daemon while it follows an
// EVE file of alerts: the restarted daemon reads again the lines after
// the last saved offset, whose alerts the live database may already
// count (issue #8). The stored count may miss the alerts of lines written
// shortly before a kill, but never exceeds the lines written.
func TestKillDoesNotCountAlertsTwice(t *testing.T) {
	e := newEnv(t)
	// Event time runs 1 s a line, far ahead of the pipeline's hold, so
	// alerts are written soon after they are read.
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	n := 0
	var kills []time.Time
	var at []time.Time // when each line was written
	feed := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			var lines []string
			for range 20 {
				lines = append(lines, alertLine(n, t0.Add(time.Duration(n)*time.Second)))
				at = append(at, time.Now())
				n++
			}
			e.appendLines(lines...)
		}
	}
	counted := func() int64 { return e.query("SELECT coalesce(sum(count), 0) FROM main.alerts") }
	for cycle := range 4 {
		cmd := e.start()
		e.waitRunning()
		feed(time.Duration(1500+500*cycle) * time.Millisecond)
		kills = append(kills, time.Now())
		e.kill(cmd)
		t.Logf("cycle %d: killed with %d of %d alerts counted", cycle, counted(), n)
	}
	cmd := e.start()
	e.waitRunning()
	time.Sleep(3 * commitInterval)
	e.stop(cmd)
	total := counted()
	if total > int64(n) {
		t.Fatalf("counted %d alerts of %d lines written: replayed lines counted twice", total, n)
	}
	recent := 0
	for _, w := range at {
		for _, k := range kills {
			if d := k.Sub(w); d >= 0 && d <= bound {
				recent++
				break
			}
		}
	}
	t.Logf("%d alert lines written, %d counted", n, total)
	if lost := int64(n) - total; lost > int64(recent) {
		t.Errorf("lost %d alerts, but only %d were written within %v before a kill", lost, recent, bound)
	}
}
