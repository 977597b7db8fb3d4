package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/tests/pakontest"
)

// alertLine is an EVE alert of rule sid from the phone to a server on
// flow id (0: none) at t, with a TLS SNI when sni is set.
func alertLine(t time.Time, id uint64, sid int, sport int, sni string) string {
	flowID, tls := "", ""
	if id != 0 {
		flowID = fmt.Sprintf(`"flow_id":%d,`, id)
	}
	if sni != "" {
		tls = fmt.Sprintf(`,"app_proto":"tls","tls":{"sni":%q}`, sni)
	}
	return fmt.Sprintf(`{"timestamp":%q,%s"event_type":"alert","src_ip":"192.168.1.20","src_port":%d,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","ether":{"src_mac":"02:00:00:00:00:0b","dest_mac":"02:00:00:00:00:01"},"alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":1,"signature":"PAKON TEST rule %d","category":"A Network Trojan was detected","severity":1}%s}`,
		t.UTC().Format("2006-01-02T15:04:05.000000+0000"), flowID, sport, sid, sid, tls)
}

// replayFixture writes EVE files of alerts: first, and then more, which
// repeats first's second half (a followed file read again from an older
// offset) and goes on with new matches.
func replayFixture(t *testing.T, dir string) (first, more string, newMatches int) {
	t.Helper()
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var lines []string
	// One flow matching a rule on several packets, a second flow of the
	// same rule and host, a second rule on the first flow.
	for p := range 4 {
		lines = append(lines, alertLine(at(p), 501, 9300001, 40001, "spy.example.test"))
	}
	lines = append(lines, alertLine(at(2), 502, 9300001, 40002, "spy.example.test"))
	lines = append(lines, alertLine(at(3), 501, 9300002, 40001, "spy.example.test"))
	// Alerts without a flow.
	lines = append(lines, alertLine(at(5), 0, 9300003, 0, ""), alertLine(at(6), 0, 9300003, 0, ""))
	// A flood: one rule on two packets of each of 300 flows.
	for f := range 300 {
		for p := range 2 {
			lines = append(lines, alertLine(at(10+2*f+p), uint64(10000+f), 9300004, 20000+f, ""))
		}
	}
	first = filepath.Join(dir, "eve.json")
	if err := os.WriteFile(first, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	next := []string{
		alertLine(at(1000), 501, 9300001, 40001, "spy.example.test"), // the first flow goes on
		alertLine(at(1001), 503, 9300001, 40003, "spy.example.test"), // a new flow
		alertLine(at(1002), 0, 9300003, 0, ""),                       // a later one without flow
		alertLine(at(1003), 10000, 9300004, 20000, ""),               // a flood flow again
	}
	more = filepath.Join(dir, "eve-more.json")
	body := strings.Join(append(lines[len(lines)/2:], next...), "\n") + "\n"
	if err := os.WriteFile(more, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return first, more, len(next)
}

// alertCounts are `pakon show --alerts -j`'s counts by sid, and their sum.
func alertCounts(t *testing.T, pk *pakontest.Instance) (map[int64]int64, int64) {
	t.Helper()
	res := showAlerts(t, pk, "--sort", "sid")
	out, sum := map[int64]int64{}, int64(0)
	for _, a := range res.Rows {
		out[int64(a.SID)] += a.Count
		sum += a.Count
	}
	eng := showAlerts(t, pk, "--engine")
	for _, a := range eng.Rows {
		out[int64(a.SID)] += a.Count
		sum += a.Count
	}
	return out, sum
}

func mustImport(t *testing.T, pk *pakontest.Instance, files ...string) {
	t.Helper()
	if out, errOut, code := pk.Run(t, append([]string{"import"}, files...)...); code != 0 {
		t.Fatalf("pakon import %v: exit %d: %s %s", files, code, out, errOut)
	}
}

// TestImportAlertsTwice: importing the same EVE file again, or a file that
// repeats part of one imported before, counts no alert twice, while the
// new matches count (issue #8).
func TestImportAlertsTwice(t *testing.T) {
	dir := t.TempDir()
	first, more, newMatches := replayFixture(t, dir)

	once := pakontest.New(t)
	mustImport(t, once, first)
	want, total := alertCounts(t, once)
	if total != 4+1+1+2+600 {
		t.Fatalf("one import counted %d matches, want 608: %v", total, want)
	}

	twice := pakontest.New(t)
	mustImport(t, twice, first)
	mustImport(t, twice, first)
	mustImport(t, twice, first, first) // and twice within one run
	got, _ := alertCounts(t, twice)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("imported again: counts %v, want %v", got, want)
	}

	mustImport(t, twice, more)
	got, sum := alertCounts(t, twice)
	if sum != total+int64(newMatches) {
		t.Errorf("after the overlapping file: %d matches, want %d: %v", sum, total+int64(newMatches), got)
	}
	for sid, n := range map[int64]int64{9300001: want[9300001] + 2, 9300002: want[9300002], 9300003: want[9300003] + 1, 9300004: want[9300004] + 1} {
		if got[sid] != n {
			t.Errorf("rule %d counts %d, want %d", sid, got[sid], n)
		}
	}
	mustImport(t, twice, first, more)
	if _, again := alertCounts(t, twice); again != sum {
		t.Errorf("everything imported once more: %d matches, want %d", again, sum)
	}
}
