package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// TestNotifier runs the notifier's command and posts to a local server
// with each HTTP client program found here (curl; wget, whose arguments
// are uclient-fetch's). Debian's BusyBox 1.35 wget crashes on
// --post-file, so it is not among them.
func TestNotifier(t *testing.T) {
	tried := 0
	for _, p := range posters {
		if _, err := exec.LookPath(p.name); err != nil {
			continue
		}
		tried++
		t.Run(p.name, func(t *testing.T) { testNotifier(t, []poster{p}) })
	}
	if tried == 0 {
		t.Fatal("no HTTP client program (curl, wget, busybox) to post with; tests/setup-debian.sh installs curl")
	}
	t.Run("none", func(t *testing.T) {
		err := postJSON(context.Background(), []poster{{"pakon-no-such-client", wgetArgs}}, "http://127.0.0.1:9/", []byte("{}"))
		if err == nil || !strings.Contains(err.Error(), "no HTTP client") {
			t.Errorf("without a client: %v", err)
		}
	})
}

func testNotifier(t *testing.T, post []poster) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "pakon.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	var posted []query.AlertRow
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a query.AlertRow
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &a)
		mu.Lock()
		defer mu.Unlock()
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		posted = append(posted, a)
	}))
	defer srv.Close()
	envFile := filepath.Join(dir, "env")
	script := filepath.Join(dir, "notify.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nenv | grep ^PAKON_ALERT_ | sort >> "+envFile+"\necho -- >> "+envFile+"\n"), 0o755)

	now := time.Unix(1_800_000_000, 0)
	n := newNotifier(config.Alerts{NotifyCommand: script, NotifyURL: srv.URL, NotifySeverity: 1, NotifyInterval: 10 * time.Minute},
		query.New(db, query.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	n.now, n.since, n.post = func() time.Time { return now }, now.Add(-time.Minute), post
	write := func(at time.Time, sid uint32, sev int) {
		a := flow.Alert{Time: eve.TimestampOf(at), MAC: "02:00:00:00:00:0b", SrcIP: netip.MustParseAddr("10.99.1.11"),
			DestIP: netip.MustParseAddr("203.0.113.66"), DestPort: 443, Proto: "TCP", Hostname: "spy.example.test",
			GID: 1, SID: sid, Signature: "stalkerware", Severity: sev}
		if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{a}}); err != nil {
			t.Fatal(err)
		}
	}
	write(now.Add(-2*time.Minute), 1, 1) // before the notifier started
	write(now.Add(-30*time.Second), 2, 1)
	write(now.Add(-20*time.Second), 3, 3) // low severity
	if err := n.check(ctx); err != nil {
		t.Fatal(err)
	}
	env, _ := os.ReadFile(envFile)
	if len(posted) != 1 || posted[0].SID != 2 || strings.Count(string(env), "--") != 1 ||
		!strings.Contains(string(env), "PAKON_ALERT_SID=2\n") || !strings.Contains(string(env), "PAKON_ALERT_HOSTNAME=spy.example.test\n") ||
		!strings.Contains(string(env), "PAKON_ALERT_SEVERITY_NAME=high\n") {
		t.Fatalf("posted %+v, env:\n%s", posted, env)
	}
	// A new match of the same rule within the interval: quiet.
	write(now.Add(-10*time.Second), 2, 1)
	if err := n.check(ctx); err != nil || len(posted) != 1 {
		t.Errorf("within the interval: %d posts, %v", len(posted), err)
	}
	// After the interval: notified again, with the folded count.
	now = now.Add(11 * time.Minute)
	write(now.Add(-time.Second), 2, 1)
	if err := n.check(ctx); err != nil || len(posted) != 2 || posted[1].Count != 3 {
		t.Errorf("after the interval: %+v, %v", posted, err)
	}
	// A failing hook is reported.
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	write(now.Add(time.Second), 4, 1)
	if err := n.check(ctx); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("failing URL: %v", err)
	}
}
