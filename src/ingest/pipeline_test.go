package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eveinput"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

var _ eveinput.Sink = (*ingest.Pipeline)(nil)

// waitTimeout bounds waits; reaching it means a hang, not slowness.
const waitTimeout = 5 * time.Second

const (
	deviceMAC = "02:00:00:00:00:0a"
	routerMAC = "02:00:00:00:00:01"
	deviceIP  = "192.168.1.10"
)

func ts(sec float64) string {
	return eve.Timestamp(sec * 1e6).Time().Format("2006-01-02T15:04:05.000000+0000")
}

// tlsLine is Suricata 7's tls event of a flow from the device.
func tlsLine(at float64, flowID int, dst, sni string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"tls","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":443,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":%q,"dest_mac":%q},"tls":{"subject":"CN=%s","issuerdn":"C=US, O=Let's Encrypt, CN=R3","serial":"04:AB","fingerprint":"aa:bb:cc","sni":%q,"version":"TLS 1.3","notbefore":"2024-01-01T00:00:00","notafter":"2025-04-01T00:00:00"}}`,
		ts(at), flowID, deviceIP, 40000+flowID%20000, dst, deviceMAC, routerMAC, sni, sni)
}

// flowLine is the flow event that ends a flow, logged a second after its end.
func flowLine(start, end float64, flowID int, dst string, toServer, toClient int) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"in_iface":"br-lan","event_type":"flow","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,"start":%q,"end":%q,"age":%d,"state":"closed","reason":"timeout","alerted":false},"ether":{"dest_macs":[%q],"src_macs":[%q]},"tcp":{"tcp_flags":"1b","syn":true,"fin":true,"ack":true,"state":"closed"}}`,
		ts(end+1), flowID, deviceIP, 40000+flowID%20000, dst, 1+toServer/1400, 1+toClient/1400, toServer, toClient, ts(start), ts(end), int(end-start), routerMAC, deviceMAC)
}

// completeFlow is a TLS flow with its name and its end.
func completeFlow(at float64, flowID int, sni string) []string {
	dst := fmt.Sprintf("203.0.113.%d", 1+flowID%250)
	return []string{tlsLine(at, flowID, dst, sni), flowLine(at, at+5, flowID, dst, 1200, 34000)}
}

func mustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "pakon.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

type flowRow struct {
	name   string
	active bool
	sent   int64
}

func flowRows(t *testing.T, db *store.DB) []flowRow {
	t.Helper()
	rows, err := db.SQL().Query("SELECT observed_name, active, bytes_sent FROM flows ORDER BY start, flow_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []flowRow
	for rows.Next() {
		var r flowRow
		if err := rows.Scan(&r.name, &r.active, &r.sent); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func countDevices(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM devices").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newPipeline(t *testing.T, db *store.DB, opts ingest.Options) (*ingest.Pipeline, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}
	return ingest.New(db, opts), &logs
}

// run starts p.Run and returns a function that waits for its result.
func run(t *testing.T, ctx context.Context, p *ingest.Pipeline) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var err error
	wait := func() error {
		once.Do(func() {
			select {
			case err = <-done:
			case <-time.After(waitTimeout):
				t.Fatal("Run did not return")
			}
		})
		return err
	}
	return wait
}

func put(t *testing.T, p *ingest.Pipeline, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if err := p.Put(context.Background(), []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPipelineWritesEverythingOnCloseInput(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{BatchSize: 3})
	wait := run(t, context.Background(), p)
	var lines []string
	for i := range 20 {
		lines = append(lines, completeFlow(1_700_000_000+10*float64(i), 100+i, fmt.Sprintf("host%d.example.test", i))...)
	}
	put(t, p, lines...)
	p.CloseInput()
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := flowRows(t, db)
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20", len(rows))
	}
	for i, r := range rows {
		if want := fmt.Sprintf("host%d.example.test", i); r.name != want || r.active || r.sent != 1200 {
			t.Errorf("row %d: %+v, want %s completed with 1200 bytes sent", i, r, want)
		}
	}
	if n := countDevices(t, db); n != 1 {
		t.Errorf("%d devices, want 1", n)
	}
	s := p.Stats()
	if s.LinesRead != 40 || s.Events != 40 || s.LinesRejected != 0 || s.LinesDropped != 0 {
		t.Errorf("line counters %+v", s)
	}
	if s.Flow.Records != 20 || s.WriteErrors != 0 || s.Batches == 0 || s.Changes < 20 || s.ActiveWritten != 0 {
		t.Errorf("write counters %+v", s)
	}
	if s.LastEvent.IsZero() || s.LastError != "" {
		t.Errorf("LastEvent %v LastError %q", s.LastEvent, s.LastError)
	}
}

func TestPipelineOfferDropsWhenFull(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{QueueSize: 2})
	lines := completeFlow(1_700_000_000, 1, "a.example.test")
	lines = append(lines, completeFlow(1_700_000_010, 2, "b.example.test")...)
	var took []bool
	for _, l := range lines {
		took = append(took, p.Offer([]byte(l)))
	}
	if fmt.Sprint(took) != "[true true false false]" {
		t.Fatalf("Offer results %v, want the first two taken", took)
	}
	s := p.Stats()
	if s.LinesDropped != 2 {
		t.Fatalf("LinesDropped %d, want 2", s.LinesDropped)
	}
	if s.LinesRead != 4 {
		t.Fatalf("LinesRead %d, want 4 (dropped lines were read too)", s.LinesRead)
	}
	p.CloseInput()
	if err := run(t, context.Background(), p)(); err != nil {
		t.Fatal(err)
	}
	if rows := flowRows(t, db); len(rows) != 1 || rows[0].name != "a.example.test" {
		t.Fatalf("rows %+v, want only the flow whose lines were taken", rows)
	}
	if s := p.Stats(); s.Events != 2 {
		t.Fatalf("Events %d, want 2", s.Events)
	}
}

func TestPipelineOfferCopiesTheLine(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{})
	lines := completeFlow(1_700_000_000, 1, "a.example.test")
	buf := []byte(lines[0])
	p.Offer(buf)
	copy(buf, bytes.Repeat([]byte("x"), len(buf))) // the reader reuses its buffer
	put(t, p, lines[1])
	p.CloseInput()
	if err := run(t, context.Background(), p)(); err != nil {
		t.Fatal(err)
	}
	if rows := flowRows(t, db); len(rows) != 1 || rows[0].name != "a.example.test" {
		t.Fatalf("rows %+v", rows)
	}
}

func TestPipelinePutWaitsForRoom(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{QueueSize: 1})
	lines := completeFlow(1_700_000_000, 1, "a.example.test")
	put(t, p, lines[0])

	// Full: Put waits until its context gives up…
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Put(ctx, []byte(lines[1])); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put on a full queue: %v, want the context's error", err)
	}
	// …and returns at once, without queueing, when that is already done.
	if err := p.Put(ctx, []byte(lines[1])); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put with a done context: %v", err)
	}

	// …or until Run makes room.
	putDone := make(chan error, 1)
	go func() { putDone <- p.Put(context.Background(), []byte(lines[1])) }()
	select {
	case err := <-putDone:
		t.Fatalf("Put returned %v while the queue was full", err)
	case <-time.After(10 * time.Millisecond):
	}
	wait := run(t, context.Background(), p)
	select {
	case err := <-putDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Put still waiting while Run is running")
	}
	p.CloseInput()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if rows := flowRows(t, db); len(rows) != 1 || rows[0].active {
		t.Fatalf("rows %+v, want the completed flow", rows)
	}
	if s := p.Stats(); s.LinesRead != 2 || s.Events != 2 {
		t.Fatalf("LinesRead %d Events %d, want 2 and 2 (refused Puts are not read)", s.LinesRead, s.Events)
	}
}

func TestPipelineCancelProcessesQueueAndWritesOpenFlows(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{})
	put(t, p, completeFlow(1_700_000_000, 1, "done.example.test")...)
	// Two flows still running: only their tls events so far.
	put(t, p,
		tlsLine(1_700_000_001, 2, "203.0.113.50", "open.example.test"),
		tlsLine(1_700_000_002, 3, "203.0.113.51", "open2.example.test"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(t, ctx, p)(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := flowRows(t, db)
	want := []flowRow{{"done.example.test", false, 1200}, {"open.example.test", true, 0}, {"open2.example.test", true, 0}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows %+v, want %+v", rows, want)
	}
	s := p.Stats()
	if s.Events != 4 || s.ActiveWritten != 2 || s.Flow.Records != 1 {
		t.Fatalf("stats %+v, want 4 events, 2 active rows, 1 record", s)
	}
}

func TestPipelineCancelWhileRunning(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	wait := run(t, ctx, p)
	put(t, p, completeFlow(1_700_000_000, 1, "a.example.test")...)
	put(t, p, tlsLine(1_700_000_001, 2, "203.0.113.50", "open.example.test"))
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if rows := flowRows(t, db); len(rows) != 2 || rows[0].active || !rows[1].active {
		t.Fatalf("rows %+v, want one completed and one active", rows)
	}
}

func TestPipelineRejectedLines(t *testing.T) {
	db := mustOpenDB(t)
	p, logs := newPipeline(t, db, ingest.Options{})
	good := completeFlow(1_700_000_000, 1, "a.example.test")
	put(t, p, good[0])
	for i := range 30 {
		put(t, p, fmt.Sprintf(`{"timestamp":"2024-05-01T12:00:00.000000+0000","event_type":"flow","flow_id":%d,"src_ip":"not an address"}`, i))
	}
	put(t, p, "", "   ") // blank lines are neither events nor errors
	for range 5 {
		p.Reject("line cut off by disconnect after 12 bytes")
	}
	put(t, p, `{"truncated":`, good[1])
	p.CloseInput()
	if err := run(t, context.Background(), p)(); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.LinesRejected != 36 || s.Events != 2 {
		t.Fatalf("LinesRejected %d Events %d, want 36 and 2", s.LinesRejected, s.Events)
	}
	if s.LinesRead != 40 {
		t.Fatalf("LinesRead %d, want 40: 35 put and 5 rejected by the reader", s.LinesRead)
	}
	if !strings.Contains(s.LastError, `{\"truncated\":`) {
		t.Fatalf("LastError %q does not show the last bad line", s.LastError)
	}
	if rows := flowRows(t, db); len(rows) != 1 {
		t.Fatalf("rows %+v, want the good flow", rows)
	}
	out := logs.String()
	n := strings.Count(out, "rejected EVE line")
	if n != 10 {
		t.Fatalf("%d log lines about rejected lines for 36 rejects, want the burst of 10:\n%s", n, out)
	}
	if !strings.Contains(out, "component=ingest") {
		t.Fatalf("log lacks component=ingest:\n%s", out)
	}
}

func TestPipelineWriteErrorKeepsGoing(t *testing.T) {
	db := mustOpenDB(t)
	// One flow the database refuses; the others must still be written.
	if _, err := db.SQL().Exec(`CREATE TRIGGER refuse BEFORE INSERT ON flows WHEN NEW.bytes_sent = 666
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
		t.Fatal(err)
	}
	p, logs := newPipeline(t, db, ingest.Options{BatchSize: 1})
	wait := run(t, context.Background(), p)
	// One line per batch; each flow event is written once the next one has
	// moved event time past the hold.
	put(t, p,
		flowLine(1_700_000_000, 1_700_000_005, 1, "203.0.113.1", 666, 100),
		flowLine(1_700_000_100, 1_700_000_105, 2, "203.0.113.2", 1000, 100),
		flowLine(1_700_000_200, 1_700_000_205, 3, "203.0.113.3", 1000, 100))
	p.CloseInput()
	err := wait()
	if err == nil || !strings.Contains(err.Error(), "refused by test") {
		t.Fatalf("Run: %v, want the write error", err)
	}
	s := p.Stats()
	if s.WriteErrors != 1 || s.Batches != 2 {
		t.Fatalf("WriteErrors %d Batches %d, want 1 and 2", s.WriteErrors, s.Batches)
	}
	if !strings.Contains(s.LastError, "refused by test") {
		t.Fatalf("LastError %q", s.LastError)
	}
	if rows := flowRows(t, db); len(rows) != 2 || rows[0].sent != 1000 {
		t.Fatalf("rows %+v, want the two flows after the refused one", rows)
	}
	if !strings.Contains(logs.String(), "write batch") {
		t.Fatalf("write error not logged:\n%s", logs.String())
	}
}

func TestPipelineClosedDatabase(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{BatchSize: 1})
	db.Close()
	put(t, p, completeFlow(1_700_000_000, 1, "a.example.test")...)
	put(t, p, completeFlow(1_700_000_100, 2, "b.example.test")...)
	p.CloseInput()
	if err := run(t, context.Background(), p)(); err == nil {
		t.Fatal("Run returned no error writing to a closed database")
	}
	s := p.Stats()
	if s.WriteErrors == 0 || s.Batches != 0 || s.Changes != 0 || s.Events != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPipelineFlushesWhileRunning(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{FlushInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := run(t, ctx, p)
	put(t, p, completeFlow(1_700_000_000, 1, "a.example.test")...)
	// Move event time past the hold so that the flow is due.
	put(t, p, tlsLine(1_700_000_100, 2, "203.0.113.9", "b.example.test"))
	deadline := time.Now().Add(waitTimeout)
	for len(flowRows(t, db)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing written while running")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := p.Stats(); s.Batches == 0 {
		t.Fatalf("rows written but Batches %d", s.Batches)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestPipelineFromEVEFile(t *testing.T) {
	var lines []string
	for i := range 50 {
		lines = append(lines, completeFlow(1_700_000_000+float64(i), 1000+i, fmt.Sprintf("h%d.example.test", i))...)
	}
	path := filepath.Join(t.TempDir(), "eve.json")
	data := strings.Join(lines, "\n") + "\n{\"event_type\":\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{QueueSize: 4})
	wait := run(t, context.Background(), p)
	n, err := eveinput.ReadFile(context.Background(), path, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	p.CloseInput()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if rows := flowRows(t, db); len(rows) != 50 {
		t.Fatalf("%d rows, want 50", len(rows))
	}
	s := p.Stats()
	if uint64(n) != s.LinesRead || s.LinesRead != s.Events+s.LinesRejected || s.LinesRejected != 1 {
		t.Fatalf("ReadFile read %d, stats %+v", n, s)
	}
}

func TestPipelineStatsAddUpUnderLoad(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{QueueSize: 8, BatchSize: 16})
	wait := run(t, context.Background(), p)
	const readers, perReader = 4, 500
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perReader {
				id := 1 + r*perReader + i
				switch i % 10 {
				case 0:
					p.Offer([]byte(`{"event_type":`))
				case 1:
					p.Reject("too long")
				default:
					p.Offer([]byte(tlsLine(1_700_000_000+float64(i), id, "203.0.113.7", "x.example.test")))
				}
				_ = p.Stats() // readers of the counters run alongside
			}
		}()
	}
	wg.Wait()
	p.CloseInput()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.LinesRead != readers*perReader {
		t.Fatalf("LinesRead %d, want %d", s.LinesRead, readers*perReader)
	}
	if got := s.Events + s.LinesRejected + s.LinesDropped; got != s.LinesRead {
		t.Fatalf("events %d + rejected %d + dropped %d = %d, want LinesRead %d",
			s.Events, s.LinesRejected, s.LinesDropped, got, s.LinesRead)
	}
	if s.LinesRejected < readers*perReader/10 {
		t.Fatalf("LinesRejected %d, want at least the %d Reject calls", s.LinesRejected, readers*perReader/10)
	}
	rows := flowRows(t, db)
	if uint64(len(rows)) != s.ActiveWritten || s.Changes < s.ActiveWritten {
		t.Fatalf("%d rows, ActiveWritten %d, Changes %d", len(rows), s.ActiveWritten, s.Changes)
	}
}
