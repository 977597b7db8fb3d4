package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/query"
)

// notifyEvery is how often the notifier looks for new alerts.
const notifyEvery = 10 * time.Second

// notifier announces new alerts of at least the configured severity: it
// runs alerts.notify_command with the alert in PAKON_ALERT_* variables
// and POSTs the alert as JSON to alerts.notify_url, at most once per rule
// and device per alerts.notify_interval. It polls the stored alerts, so it
// sees what the pipeline folded, and never slows ingest down.
type notifier struct {
	cfg    config.Alerts
	engine *query.Engine
	log    *slog.Logger
	post   []poster // HTTP clients to try for notify_url, in order
	now    func() time.Time

	since time.Time            // alerts last seen after this are new
	last  map[string]time.Time // rule and device → last notification
}

func newNotifier(cfg config.Alerts, engine *query.Engine, log *slog.Logger) *notifier {
	return &notifier{cfg: cfg, engine: engine, log: log, post: posters,
		now: time.Now, since: time.Now(), last: map[string]time.Time{}}
}

// enabled reports whether there is anything to notify.
func (n *notifier) enabled() bool { return n.cfg.NotifyCommand != "" || n.cfg.NotifyURL != "" }

// run checks for new alerts until ctx is done.
func (n *notifier) run(ctx context.Context) {
	t := time.NewTicker(notifyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.check(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("alert notification", "err", err)
			}
		}
	}
}

// check notifies the alerts last seen since the previous check.
func (n *notifier) check(ctx context.Context) error {
	var sev []int
	for s := 1; s <= n.cfg.NotifySeverity; s++ {
		sev = append(sev, s)
	}
	res, err := n.engine.Alerts(ctx, query.AlertParams{Start: n.since, Severities: sev, Sort: "last", Desc: true})
	if err != nil {
		return err
	}
	now := n.now()
	var firstErr error
	for i := len(res.Rows) - 1; i >= 0; i-- { // oldest first
		a := &res.Rows[i]
		if seen := time.UnixMicro(int64(a.LastSeen * 1e6)); seen.After(n.since) {
			n.since = seen
		}
		key := fmt.Sprintf("%d:%d %s %s", a.GID, a.SID, a.MAC, a.SrcIP)
		if t, ok := n.last[key]; ok && now.Sub(t) < n.cfg.NotifyInterval {
			continue
		}
		n.last[key] = now
		if err := n.send(ctx, a); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for k, t := range n.last {
		if now.Sub(t) >= n.cfg.NotifyInterval {
			delete(n.last, k)
		}
	}
	return firstErr
}

func (n *notifier) send(ctx context.Context, a *query.AlertRow) error {
	var firstErr error
	if n.cfg.NotifyCommand != "" {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(ctx, n.cfg.NotifyCommand)
		cmd.Env = append(os.Environ(), notifyEnv(a)...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			firstErr = fmt.Errorf("run %s: %w: %s", n.cfg.NotifyCommand, err, bytes.TrimSpace(out))
		}
	}
	if n.cfg.NotifyURL != "" {
		body, _ := json.Marshal(a)
		err := postJSON(ctx, n.post, n.cfg.NotifyURL, body)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("post to %s: %w", n.cfg.NotifyURL, err)
		}
	}
	return firstErr
}

// notifyEnv describes an alert for the notify command.
func notifyEnv(a *query.AlertRow) []string {
	device := a.MAC
	if a.Device != nil {
		device = *a.Device
	}
	return []string{
		"PAKON_ALERT_ID=" + strconv.FormatInt(a.ID, 10),
		"PAKON_ALERT_SID=" + strconv.FormatUint(uint64(a.SID), 10),
		"PAKON_ALERT_SIGNATURE=" + a.Signature,
		"PAKON_ALERT_CATEGORY=" + a.Category,
		"PAKON_ALERT_SEVERITY=" + strconv.Itoa(a.Severity),
		"PAKON_ALERT_SEVERITY_NAME=" + a.SeverityName,
		"PAKON_ALERT_MAC=" + a.MAC,
		"PAKON_ALERT_DEVICE=" + device,
		"PAKON_ALERT_SRC_IP=" + a.SrcIP,
		"PAKON_ALERT_HOSTNAME=" + a.Hostname,
		"PAKON_ALERT_DEST_IP=" + a.DestIP,
		"PAKON_ALERT_DEST_PORT=" + strconv.Itoa(a.DestPort),
		"PAKON_ALERT_COUNT=" + strconv.FormatInt(a.Count, 10),
		"PAKON_ALERT_LAST_SEEN=" + strconv.FormatFloat(a.LastSeen, 'f', 0, 64),
	}
}

// poster is an HTTP client program that POSTs a file. pakon has no HTTP
// stack of its own: Go's (with TLS) would add about 2.7 MB to a router's
// binary for one notification now and then, while every router has
// uclient-fetch and every Debian host curl or wget.
type poster struct {
	name string
	args func(url, file string) []string
}

// posters are tried in order; the first one on $PATH posts.
var posters = []poster{
	{"curl", func(url, file string) []string {
		return []string{"-fsS", "--max-time", "10", "-o", "/dev/null", "-H", "Content-Type: application/json",
			"--data-binary", "@" + file, url}
	}},
	{"uclient-fetch", wgetArgs},
	{"wget", wgetArgs},
}

// wgetArgs are the arguments of uclient-fetch and wget (GNU's and
// BusyBox's), which share them. Not quiet: what they print goes into the
// error when the post fails (an HTTP status, a TLS problem).
func wgetArgs(url, file string) []string {
	return []string{"-T", "10", "-O", "/dev/null", "--header=Content-Type: application/json",
		"--post-file=" + file, url}
}

// postJSON POSTs body to url with the first of clients found. The body
// goes through a private temporary file, not the command line, which
// other users could read.
func postJSON(ctx context.Context, clients []poster, url string, body []byte) error {
	var p poster
	var path string
	for _, c := range clients {
		if found, err := exec.LookPath(c.name); err == nil {
			p, path = c, found
			break
		}
	}
	if path == "" {
		return errors.New("no HTTP client to post with (install curl, wget, or uclient-fetch on OpenWrt)")
	}
	f, err := os.CreateTemp("", "pakon-alert-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, path, p.args(url, f.Name())...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", p.name, err, bytes.TrimSpace(out))
	}
	return nil
}
