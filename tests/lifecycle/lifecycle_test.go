// Package lifecycle holds end-to-end tests of the storage lifecycle: the
// built pakon binary is killed with SIGKILL while it ingests and commits,
// and must lose at most one commit interval, never corrupt its files, and
// keep its DNS history across restarts.
package lifecycle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/store"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pakon-lifecycle-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "pakon")
	out, err := exec.Command("go", "build", "-o", binary, "../../src/cmd/pakon").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build pakon: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one pakon installation in a temp dir: tmpfs/ plays the RAM disk,
// flash/ the persistent storage.
type env struct {
	t                           *testing.T
	dir, cfg, eve, live, archiv string
	logs                        []*logBuffer
}

// logBuffer is a daemon's output, safe to read while it writes.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitRunning waits until the last started daemon has finished its
// start-up (restore included): a SIGTERM before that is a failed start.
func (e *env) waitRunning() {
	e.t.Helper()
	log := e.logs[len(e.logs)-1]
	waitFor(e.t, 30*time.Second, "pakon running", func() bool { return strings.Contains(log.String(), "pakon running") })
}

const commitInterval = time.Second

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "pakon.conf"), eve: filepath.Join(dir, "eve.json"),
		live: filepath.Join(dir, "tmpfs", "pakon.db"), archiv: filepath.Join(dir, "flash", "archive.db")}
	conf := fmt.Sprintf(`config monitor 'monitor'
	option eve_file '%s'
	option live_db '%s'
	option state_dir '%s'
	option commit_interval '1s'

config archive 'archive'
	option path '%s'
	option keep '0'
`, e.eve, e.live, filepath.Join(dir, "tmpfs"), e.archiv)
	if err := os.WriteFile(e.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.eve, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) start() *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(binary, "daemon", "-c", e.cfg)
	log := &logBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	e.logs = append(e.logs, log)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func (e *env) kill(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func (e *env) stop(cmd *exec.Cmd) {
	e.t.Helper()
	e.waitRunning()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("daemon exited with %v:\n%s", err, e.logs[len(e.logs)-1])
	}
}

func (e *env) appendLines(lines ...string) {
	e.t.Helper()
	f, err := os.OpenFile(e.eve, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		e.t.Fatal(err)
	}
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+0000") }

const mac = "02:00:00:00:00:0a"

// flowLine is a completed flow: id makes its source port, and bytes its
// size.
func flowLine(id int, start time.Time, bytes int) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"flow","src_ip":"192.168.1.10","src_port":%d,"dest_ip":"198.51.100.%d","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":3,"pkts_toclient":4,"bytes_toserver":%d,"bytes_toclient":%d,"start":%q,"end":%q},"ether":{"src_macs":[%q],"dest_macs":["02:00:00:00:00:01"]}}`,
		ts(start.Add(3*time.Second)), 1000+id, 1024+id%60000, id%200, bytes/3, bytes-bytes/3, ts(start), ts(start.Add(2*time.Second)), mac)
}

// query opens both tiers read-only, as pakon show does.
func (e *env) query(q string) int64 {
	e.t.Helper()
	n, err := e.tryQuery(q)
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tryQuery is query for polling: files may be missing or being replaced.
func (e *env) tryQuery(q string) (int64, error) {
	db, err := store.Open(context.Background(), e.live, store.Options{ReadOnly: true, ArchivePath: e.archiv})
	if errors.Is(err, store.ErrNoDatabase) {
		return 0, nil // not created yet
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n sql.NullInt64
	err = db.SQL().QueryRow(q).Scan(&n)
	return n.Int64, err
}

// polled is tryQuery that reads errors as "not yet".
func (e *env) polled(q string) int64 {
	n, err := e.tryQuery(q)
	if err != nil {
		return -1
	}
	return n
}

// totalFlows counts stored flows plus those the size thresholds dropped.
func (e *env) totalFlows() int64 {
	return e.query("SELECT sum(flows) FROM all_flows") + e.query("SELECT sum(flows) FROM archive.dropped")
}

func integrity(t *testing.T, path string) {
	t.Helper()
	// Read-write, as the daemon's next start opens it: a kill during an
	// archive transaction leaves a hot rollback journal, which a
	// read-only connection cannot roll back.
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check %s: %q %v", path, res, err)
	}
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// bound is how long a flow line may take to reach flash: read (0.25 s
// poll), held for out-of-order events (2 s), flushed (1 s), committed (one
// commit interval), plus scheduling slack. A kill -9 may lose what was
// written to the EVE file within bound before it, and nothing older.
const bound = commitInterval + 2*time.Second + time.Second + 250*time.Millisecond + 750*time.Millisecond

type written struct {
	id  int
	at  time.Time
	day int64 // UTC day of the flow's end
}

// feed appends flows in small batches for d, spread over the last days
// (so that archive maintenance runs at every commit), and returns them.
func (e *env) feed(rng *rand.Rand, next *int, d time.Duration) []written {
	var out []written
	now := time.Now()
	for end := now.Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		var lines []string
		for range 100 {
			*next++
			start := now.Add(-time.Duration(rng.Int63n(int64(5 * 24 * time.Hour))))
			lines = append(lines, flowLine(*next, start, 200+rng.Intn(20000)))
			out = append(out, written{*next, time.Now(), start.Add(2*time.Second).UnixMilli() / 86400000})
		}
		e.appendLines(lines...)
	}
	return out
}

// TestKillDuringIngestAndCommit kills the daemon at random moments while
// it ingests flows spread over past days, so that commits and archive
// maintenance (day moves, aggregation) run all the time. No file may be
// damaged, no flow counted twice, and no flow lost that was written more
// than bound before a kill.
func TestKillDuringIngestAndCommit(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewSource(1))
	var all []written
	var kills []time.Time
	id := 0
	for cycle := range 4 {
		cmd := e.start()
		all = append(all, e.feed(rng, &id, time.Duration(1500+rng.Intn(2000))*time.Millisecond)...)
		kills = append(kills, time.Now())
		e.kill(cmd)
		integrity(t, e.live)
		if _, err := os.Stat(e.archiv); err == nil {
			integrity(t, e.archiv)
		}
		t.Logf("cycle %d: killed with %d of %d flows stored", cycle, e.totalFlows(), id)
	}
	cmd := e.start()
	time.Sleep(3 * commitInterval)
	e.stop(cmd)
	integrity(t, e.live)
	integrity(t, e.archiv)
	total := e.totalFlows()
	if total > int64(id) {
		t.Errorf("stored %d flows of %d written: counted twice", total, id)
	}
	// Per day too: a day counted twice must not hide behind losses.
	perDay := map[int64]int64{}
	for _, w := range all {
		perDay[w.day]++
	}
	for day, n := range e.storedPerDay() {
		if n > perDay[day] {
			t.Errorf("day %d: stored %d flows of %d written", day, n, perDay[day])
		}
	}
	defer func() {
		if t.Failed() {
			e.logDaemons()
		}
	}()
	stored := map[int64]bool{}
	db, err := store.Open(context.Background(), e.live, store.Options{ReadOnly: true, ArchivePath: e.archiv})
	if err != nil {
		t.Fatal(err)
	}
	// Raw flows are told apart by source port; archived days are merged,
	// so count per day instead: every lost flow must be explained.
	rows, err := db.SQL().Query("SELECT src_port FROM main.flows")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p int64
		rows.Scan(&p)
		stored[p] = true
	}
	rows.Close()
	db.Close()
	lostLate := 0
	for _, w := range all {
		if stored[int64(1024+w.id)] {
			continue
		}
		late := true
		for _, k := range kills {
			if d := k.Sub(w.at); d >= 0 && d <= bound {
				late = false
			}
		}
		if late {
			lostLate++
		}
	}
	// Flows of archived days are not in main.flows; they are accounted
	// for by the totals: lost = written - stored.
	lost := int64(id) - total
	t.Logf("%d flows written, %d lost to kills, %d in the archive's days", id, lost, e.query("SELECT sum(flows) FROM archive.parts"))
	recent := 0
	for _, w := range all {
		for _, k := range kills {
			if d := k.Sub(w.at); d >= 0 && d <= bound {
				recent++
				break
			}
		}
	}
	if lost > int64(recent) {
		t.Errorf("lost %d flows, but only %d were written within %v before a kill", lost, recent, bound)
	}
	if n := e.query("SELECT count(*) FROM archive.parts WHERE level > 0"); n == 0 {
		t.Error("no day was aggregated")
	}
}

// TestRebootLosesAtMostOneCommitInterval kills the daemon and empties the
// RAM disk's database, as a power cut does: flows that reached the flash
// journal come back, and only those completed within the last commit
// interval (plus the pipeline's hold and flush) may be missing.
func TestRebootLosesAtMostOneCommitInterval(t *testing.T) {
	e := newEnv(t)
	cmd := e.start()
	var log []written
	id := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var lines []string
		for range 50 {
			id++
			lines = append(lines, flowLine(id, time.Now().Add(-time.Minute), 5000))
			log = append(log, written{id: id, at: time.Now()})
		}
		e.appendLines(lines...)
		time.Sleep(100 * time.Millisecond)
	}
	killedAt := time.Now()
	e.kill(cmd)
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(e.live + s)
	}
	// Stop ingesting what the old run had read but not committed: the
	// offset file survives here (only the database is lost), so the
	// restarted daemon resumes after it.
	cmd = e.start()
	waitFor(t, 20*time.Second, "restore", func() bool {
		_, err := os.Stat(e.live)
		return err == nil && e.polled("SELECT count(*) FROM all_flows") > 0
	})
	e.stop(cmd)
	integrity(t, e.archiv)
	lost, lostLate := 0, 0
	for _, w := range log {
		if e.query(fmt.Sprintf("SELECT count(*) FROM all_flows WHERE src_port = %d", 1024+w.id)) == 1 {
			continue
		}
		lost++
		if killedAt.Sub(w.at) > bound {
			lostLate++
		}
	}
	t.Logf("%d flows written, %d lost at the reboot", len(log), lost)
	if lostLate > 0 {
		t.Errorf("%d flows written more than %v before the power cut were lost", lostLate, bound)
	}
	if lost == len(log) {
		t.Error("everything was lost: the journal did not work")
	}
}

// TestCorruptArchiveIsQuarantined damages the archive between runs: the
// daemon moves it aside, logs an error, starts a new one and keeps running.
func TestCorruptArchiveIsQuarantined(t *testing.T) {
	for _, damage := range []string{"truncated", "garbage"} {
		t.Run(damage, func(t *testing.T) {
			e := newEnv(t)
			e.appendLines(flowLine(1, time.Now().Add(-72*time.Hour), 90000))
			cmd := e.start()
			waitFor(t, 20*time.Second, "archive", func() bool { return e.polled("SELECT count(*) FROM archive.flows") > 0 })
			e.stop(cmd)
			data, err := os.ReadFile(e.archiv)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "truncated" {
				data = data[:len(data)/2]
			} else {
				for i := 200; i < len(data); i++ {
					data[i] = byte(i * 7)
				}
			}
			os.WriteFile(e.archiv, data, 0o600)
			cmd = e.start()
			e.appendLines(flowLine(2, time.Now().Add(-72*time.Hour), 90000))
			waitFor(t, 20*time.Second, "new archive", func() bool { return e.polled("SELECT count(*) FROM archive.flows") > 0 })
			e.stop(cmd)
			integrity(t, e.archiv)
			moved, _ := filepath.Glob(e.archiv + ".corrupt-*")
			if len(moved) == 0 {
				t.Error("the damaged archive was not kept")
			}
			if log := e.logs[1].String(); !strings.Contains(log, "archive damaged") {
				t.Errorf("no error logged:\n%s", log)
			}
		})
	}
}

// TestRestartKeepsDNSHistory: a DNS answer seen before a kill names a flow
// that starts after the restart.
func TestRestartKeepsDNSHistory(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.appendLines(fmt.Sprintf(`{"timestamp":%q,"flow_id":7,"event_type":"dns","src_ip":"192.168.1.10","src_port":40000,"dest_ip":"192.168.1.1","dest_port":53,"proto":"UDP","ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"},"dns":{"version":2,"type":"answer","id":1,"rrname":"before-restart.test","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"before-restart.test","rrtype":"A","ttl":3600,"rdata":"198.51.100.77"}]}}`,
		ts(now), mac))
	cmd := e.start()
	time.Sleep(3 * commitInterval) // a commit saves the snapshot
	e.kill(cmd)
	cmd = e.start()
	line := flowLine(77, now.Add(10*time.Second), 5000)
	e.appendLines(line)
	waitFor(t, 20*time.Second, "the flow", func() bool {
		return e.polled("SELECT count(*) FROM all_flows WHERE dest_ip = '198.51.100.77'") > 0
	})
	e.stop(cmd)
	if n := e.query("SELECT count(*) FROM all_flows WHERE dest_ip = '198.51.100.77' AND observed_name = 'before-restart.test' AND name_source = 'dns'"); n != 1 {
		t.Errorf("the flow after the restart is not named from the DNS answer before it:\n%s", e.logs[1])
	}
}

// TestClearWhileRunning clears one device and then everything while the
// daemon runs; nothing comes back after a restart.
func TestClearWhileRunning(t *testing.T) {
	e := newEnv(t)
	var lines []string
	for i := range 200 {
		lines = append(lines, flowLine(i, time.Now().Add(-time.Duration(i)*time.Hour), 9000))
	}
	e.appendLines(lines...)
	cmd := e.start()
	waitFor(t, 20*time.Second, "flows", func() bool {
		return e.polled("SELECT sum(flows) FROM all_flows")+e.polled("SELECT coalesce(sum(flows), 0) FROM archive.dropped") == 200
	})
	time.Sleep(2 * commitInterval)
	out, err := exec.Command(binary, "clear", "-c", e.cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("pakon clear: %v\n%s", err, out)
	}
	time.Sleep(2 * commitInterval)
	e.stop(cmd)
	cmd = e.start()
	time.Sleep(2 * commitInterval)
	e.stop(cmd)
	if n := e.query("SELECT count(*) FROM all_flows"); n != 0 {
		t.Errorf("%d flows back after clear and restart", n)
	}
}

// storedPerDay sums the flows stored per UTC day (of their end) over
// both tiers, the size thresholds' tallies included.
func (e *env) storedPerDay() map[int64]int64 {
	e.t.Helper()
	out := map[int64]int64{}
	for _, q := range []string{
		"SELECT day, flows FROM archive.parts",
		"SELECT day, sum(flows) FROM archive.dropped GROUP BY day",
		"SELECT CAST(round(end * 1e6) AS INTEGER) / 1000 / 86400000 AS d, sum(flows) FROM main.flows GROUP BY d",
	} {
		db, err := store.Open(context.Background(), e.live, store.Options{ReadOnly: true, ArchivePath: e.archiv})
		if err != nil {
			e.t.Fatal(err)
		}
		rows, err := db.SQL().Query(q)
		if err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var day, n int64
			if err := rows.Scan(&day, &n); err != nil {
				e.t.Fatalf("%s: %v", q, err)
			}
			out[day] += n
		}
		rows.Close()
		db.Close()
	}
	return out
}

// logDaemons logs what each daemon run wrote, less its debug lines.
func (e *env) logDaemons() {
	for i, l := range e.logs {
		var keep []string
		for _, line := range strings.Split(l.String(), "\n") {
			if !strings.Contains(line, "level=DEBUG") {
				keep = append(keep, line)
			}
		}
		e.t.Logf("daemon run %d:\n%s", i, strings.Join(keep, "\n"))
	}
}
