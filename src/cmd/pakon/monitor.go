package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/dnsmasq"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/rules"
	"github.com/pakon/pakon/src/service"
	"github.com/pakon/pakon/src/store"
	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubusapi"
	"github.com/pakon/pakon/src/version"
)

// daemon is the running monitor as the ubus methods see it: it answers
// status and carries out the write methods.
type daemon struct {
	cfgPath string
	log     *slog.Logger
	started time.Time
	db      *store.DB
	pipe    *ingest.Pipeline
	lc      *lifecycle
	source  *source
	engine  *query.Engine
	names   *leases.Names

	mu          sync.Mutex
	catalog     *rules.Catalog
	cfg         *config.Config
	listsErr    string
	eventsRate  float64
	busAttached bool
	floodSeen   map[string]uint64 // capped count last logged per device
	// liveRows is status's count of live rows, taken at liveRowsAt: a
	// count walks a whole index of the live database (a million rows
	// under a flood), too much for every status call (LuCI polls it).
	liveRows   int64
	liveRowsAt time.Time
}

// liveRowsMaxAge is how old status's count of live rows may be.
const liveRowsMaxAge = 15 * time.Second

var (
	_ ubusapi.Backend      = (*daemon)(nil)
	_ ubusapi.AlertBackend = (*daemon)(nil)
)

// newNames builds the device-name sources from the config (user names),
// the DHCP config and the lease file.
func newNames(cfg *config.Config, dhcpPath, leasePath string) *leases.Names {
	if leasePath == "" {
		leasePath = leases.FindLeaseFile(dhcpPath)
	}
	n := leases.New(dhcpPath, leasePath)
	n.SetUserNames(userNames(cfg))
	return n
}

func userNames(cfg *config.Config) map[string]string {
	users := make(map[string]string, len(cfg.Devices))
	for _, dev := range cfg.Devices {
		users[dev.MAC] = dev.Name
	}
	return users
}

// loadLists (re)reads the domain lists; on failure the lists in use stay.
func (d *daemon) loadLists(cfg *config.Config) {
	l, warns, err := lists.Load(existing(cfg.ReplaceLists, config.DefaultReplaceList),
		existing(cfg.IgnoreLists, config.DefaultIgnoreList))
	for _, w := range warns {
		d.log.Warn("domain list", "warning", w.Error())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.listsErr = err.Error()
		d.log.Error("load domain lists; keeping the previous ones", "err", err)
		return
	}
	d.listsErr = ""
	d.engine.SetLists(l)
}

// Reload re-reads the config file, device names and domain lists. Settings
// that need a restart (paths, interfaces) are reported, not applied.
func (d *daemon) Reload(ctx context.Context) error {
	cfg, warns, err := config.Load(d.cfgPath)
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.cfgPath, err)
	}
	for _, w := range warns {
		d.log.Warn("config", "warning", w.String())
	}
	d.names.SetUserNames(userNames(cfg))
	if err := d.names.Refresh(); err != nil {
		d.log.Warn("refresh device names", "err", err)
	}
	d.loadLists(cfg)
	d.mu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.catalog = newCatalog(cfg)
	d.mu.Unlock()
	if old.LiveDB != cfg.LiveDB || old.ArchivePath != cfg.ArchivePath || old.EVESocket != cfg.EVESocket ||
		old.EVEFile != cfg.EVEFile || old.CommitInterval != cfg.CommitInterval {
		d.log.Warn("database, input or commit settings changed; they apply after a restart")
	}
	return nil
}

// SetDeviceName stores a user-given name in the config file and applies it.
func (d *daemon) SetDeviceName(ctx context.Context, mac, name string) error {
	if err := config.SetDeviceName(d.cfgPath, mac, name); err != nil {
		return fmt.Errorf("set device name: %w", err)
	}
	return d.Reload(ctx)
}

// Clear deletes stored flows (both tiers, and the flash journal).
func (d *daemon) Clear(ctx context.Context, f store.ClearFilter) (store.ClearStats, error) {
	st, err := d.db.Clear(ctx, f)
	// Whatever the outcome, status counts the live rows afresh: the page
	// tells "no data yet" from "nothing matches" by that count.
	d.mu.Lock()
	d.liveRowsAt = time.Time{}
	d.mu.Unlock()
	if err == nil {
		d.log.Info("cleared flows", "mac", f.MAC, "before", f.Before, "live", st.LiveFlows, "archived_rows", st.ArchivedRows,
			"alerts", st.Alerts)
	}
	return st, err
}

// Status is the reply of the ubus status method (docs/ubus-api.md).
type Status struct {
	Version         string       `json:"version"`
	Uptime          float64      `json:"uptime"`
	Input           string       `json:"input"`
	Suricata        SuricataInfo `json:"suricata"`
	EventsPerSecond float64      `json:"events_per_second"`
	Lines           LineCounts   `json:"lines"`
	Flows           FlowCounts   `json:"flows"`
	DB              DBInfo       `json:"db"`
	Alerts          *AlertInfo   `json:"alerts,omitempty"`
	LastCommit      float64      `json:"last_commit,omitempty"`
	Ubus            bool         `json:"ubus"`
	Limits          Limits       `json:"limits"`
	Errors          []string     `json:"errors"`
}

// Limits are the bounds that keep the daemon's memory flat under load,
// with what each one turned away or evicted.
type Limits struct {
	OpenFlows     int           `json:"open_flows"`      // flows tracked now
	MaxOpen       int           `json:"max_open"`        // their bound
	Overflow      uint64        `json:"overflow"`        // flows not tracked: MaxOpen reached
	MaxPerDevice  int           `json:"max_per_device"`  // open flows one device may hold
	DeviceCapped  uint64        `json:"device_capped"`   // flows not tracked: their device's bound reached
	Flooding      []FloodNotice `json:"flooding"`        // devices that reached it
	IdleExpired   uint64        `json:"idle_expired"`    // open flows forgotten after a day without events
	DNSAnswers    int           `json:"dns_answers"`     // DNS history entries
	DNSEvicted    uint64        `json:"dns_evicted"`     // evicted to stay within its bound
	AlertsDropped uint64        `json:"alerts_dropped"`  // alerts dropped: too many pending
	InternResets  uint64        `json:"intern_resets"`   // decoder name table emptied when full
	QueueDropped  uint64        `json:"queue_dropped"`   // EVE lines dropped: queue full
	LiveRowsLimit int           `json:"live_rows_limit"` // completed flows kept in RAM before early archiving
}

// FloodNotice names a device that opened flows at a flood rate.
type FloodNotice struct {
	Device string  `json:"device"`
	Capped uint64  `json:"capped"`
	Open   int     `json:"open"`
	Last   float64 `json:"last"`
}

// SuricataInfo says whether Suricata feeds pakon.
type SuricataInfo struct {
	Connected   bool    `json:"connected"`
	Connections uint64  `json:"connections"`
	LastConnect float64 `json:"last_connect,omitempty"`
	LastEvent   float64 `json:"last_event,omitempty"`
}

// LineCounts count EVE lines.
type LineCounts struct {
	Read     uint64 `json:"read"`
	Dropped  uint64 `json:"dropped"`
	Rejected uint64 `json:"rejected"`
}

// FlowCounts count flows held in memory and handed to the database.
type FlowCounts struct {
	Open     int    `json:"open"`
	Pending  int    `json:"pending"`
	Overflow uint64 `json:"overflow"`
	Recorded uint64 `json:"recorded"`
	Alerts   uint64 `json:"alerts"`
}

// AlertInfo counts alerts: the last 24 hours' (the query summary), all
// stored rows, alerts lost before storing, and the rules' update status.
type AlertInfo struct {
	*query.AlertSummary
	Stored  int64  `json:"stored"`
	Dropped uint64 `json:"dropped"`
	// Replayed counts matches not counted again because their rows had
	// counted them already (a re-import, lines re-read after a restart);
	// ReplayFlows is how many flows the rows remember for that (bounded).
	Replayed    int64          `json:"replayed"`
	ReplayFlows int64          `json:"replay_flows"`
	Rules       RuleUpdateInfo `json:"rules"`
}

// RuleUpdateInfo is the last rule update in brief.
type RuleUpdateInfo struct {
	OK      bool    `json:"ok"`
	Message string  `json:"message"`
	Time    float64 `json:"time,omitempty"`
}

// DBInfo describes the two databases.
type DBInfo struct {
	Live    FileInfo  `json:"live"`
	Archive *FileInfo `json:"archive,omitempty"`
}

// FileInfo is a database file's path and size (with its WAL).
type FileInfo struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Rows int64  `json:"rows,omitempty"`
}

func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// Status reports the daemon's health for ubus and LuCI.
func (d *daemon) Status(ctx context.Context) (any, error) {
	s := d.pipe.Stats()
	d.mu.Lock()
	cfg, rate, listsErr, busAttached := d.cfg, d.eventsRate, d.listsErr, d.busAttached
	d.mu.Unlock()
	st := Status{
		Version: version.Version, Uptime: time.Since(d.started).Seconds(), Input: d.source.describe(),
		EventsPerSecond: rate,
		Lines:           LineCounts{Read: s.LinesRead, Dropped: s.LinesDropped, Rejected: s.LinesRejected},
		Flows: FlowCounts{Open: s.Flow.Open, Pending: s.Flow.Pending, Overflow: s.Flow.Overflow,
			Recorded: s.Flow.Records, Alerts: s.Flow.Alerts},
		DB:         DBInfo{Live: FileInfo{Path: cfg.LiveDB, Size: fileSize(cfg.LiveDB)}},
		LastCommit: unixSeconds(d.lc.lastCommit()),
		Ubus:       busAttached,
		Errors:     []string{},
	}
	st.Suricata.LastEvent = unixSeconds(s.LastEvent)
	if sock := d.source.socket; sock != nil {
		st.Suricata.Connected = sock.Connected() > 0
		st.Suricata.Connections = sock.Connections()
		st.Suricata.LastConnect = unixSeconds(sock.LastConnect())
	} else if _, err := os.Stat(cfg.EVEFile); err == nil {
		// A followed file has no connection; recent events say Suricata
		// is writing it.
		st.Suricata.Connected = !s.LastEvent.IsZero() && time.Since(s.LastEvent) < 5*time.Minute
	}
	st.DB.Live.Rows = d.countLiveRows(ctx)
	if cfg.ArchivePath != "" {
		st.DB.Archive = &FileInfo{Path: cfg.ArchivePath, Size: fileSize(cfg.ArchivePath)}
	}
	if sum, err := d.engine.AlertSummary(ctx, time.Now().Add(-24*time.Hour)); err == nil {
		ai := &AlertInfo{AlertSummary: sum, Dropped: s.Flow.AlertsDropped}
		if as, err := d.db.CountAlerts(ctx); err == nil {
			ai.Stored, ai.Replayed, ai.ReplayFlows = as.Rows, as.Replayed, as.SeenFlows
		}
		if rs, err := rulesStatusFrom(cfg, d.ruleCatalog()); err == nil {
			ai.Rules = RuleUpdateInfo{OK: rs.Status.OK, Message: rs.Status.Message, Time: unixSeconds(rs.Status.Time)}
		}
		st.Alerts = ai
	}
	f := s.Flow
	st.Limits = Limits{OpenFlows: f.Open, MaxOpen: f.MaxOpen, Overflow: f.Overflow, MaxPerDevice: f.MaxPerDevice,
		DeviceCapped: f.DeviceCapped, Flooding: []FloodNotice{}, IdleExpired: f.Expired, DNSAnswers: f.DNSAnswers,
		DNSEvicted: f.DNSEvicted, AlertsDropped: f.AlertsDropped, InternResets: s.InternResets,
		QueueDropped: s.LinesDropped, LiveRowsLimit: cfg.LiveDBLimit}
	for _, fl := range f.Flooding {
		st.Limits.Flooding = append(st.Limits.Flooding, FloodNotice{Device: fl.Device, Capped: fl.Capped, Open: fl.Open, Last: unixSeconds(fl.Last)})
		st.Errors = append(st.Errors, fmt.Sprintf("device %s opened flows at a flood rate: %d flows not tracked (limit %d open flows per device)",
			fl.Device, fl.Capped, f.MaxPerDevice))
	}
	st.Errors = append(st.Errors, d.lc.status.Errors()...)
	if listsErr != "" {
		st.Errors = append(st.Errors, "domain lists: "+listsErr)
	}
	if s.WriteErrors > 0 {
		st.Errors = append(st.Errors, fmt.Sprintf("%d database writes failed; last: %s", s.WriteErrors, s.LastError))
	}
	if s.Flow.Overflow > 0 {
		st.Errors = append(st.Errors, fmt.Sprintf("%d flows not tracked: too many open flows", s.Flow.Overflow))
	}
	return st, nil
}

// countLiveRows returns the number of live rows, counted at most
// liveRowsMaxAge ago (the last count if counting fails). None is counted
// again at once: that is cheap, and the first flows should show.
func (d *daemon) countLiveRows(ctx context.Context) int64 {
	d.mu.Lock()
	n, at := d.liveRows, d.liveRowsAt
	d.mu.Unlock()
	if n > 0 && time.Since(at) < liveRowsMaxAge {
		return n
	}
	n, err := d.db.CountFlows(ctx)
	if err != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.liveRows
	}
	d.mu.Lock()
	d.liveRows, d.liveRowsAt = n, time.Now()
	d.mu.Unlock()
	return n
}

// ruleCatalog returns the rule files of the current config.
func (d *daemon) ruleCatalog() *rules.Catalog {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.catalog == nil {
		d.catalog = newCatalog(d.cfg)
	}
	return d.catalog
}

// RuleBook finds the rules that explain alerts (ubusapi.AlertBackend).
func (d *daemon) RuleBook() query.RuleBook { return d.ruleCatalog() }

// AlertRules describes the rule sources and their last update.
func (d *daemon) AlertRules(ctx context.Context) (any, error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	return rulesStatusFrom(cfg, d.ruleCatalog())
}

// sample measures the event rate and tells systemd how things go.
func (d *daemon) sample(ctx context.Context, notify *service.Notifier) {
	const every = 10 * time.Second
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := d.pipe.Stats().Events, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := d.pipe.Stats()
			rate := float64(s.Events-last) / now.Sub(lastAt).Seconds()
			last, lastAt = s.Events, now
			d.mu.Lock()
			d.eventsRate = rate
			d.mu.Unlock()
			notify.Status(fmt.Sprintf("%.0f events/s, %d flows recorded, %d open, %d lines dropped",
				rate, s.Flow.Records, s.Flow.Open, s.LinesDropped))
			d.noticeFloods(s.Flow.Flooding)
		}
	}
}

// mayWrite tells whether a ubus caller may use the write methods: root,
// or the group ubus.write_group names (read at every call, so a reload
// applies it).
func (d *daemon) mayWrite(user, group string) bool {
	d.mu.Lock()
	wg := d.cfg.UbusWriteGroup
	d.mu.Unlock()
	ok := ubusapi.MayWrite(wg)(user, group)
	if !ok {
		d.log.Warn("ubus write refused", "user", user, "group", group)
	}
	return ok
}

// noticeFloods logs a warning, like an alert, when a device starts
// flooding or keeps on: once per device and sample period in which its
// capped count grew.
func (d *daemon) noticeFloods(floods []flow.DeviceFlood) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Rebuilt each time: it holds only the devices reported now, which
	// the correlator bounds.
	seen := make(map[string]uint64, len(floods))
	for _, f := range floods {
		if f.Capped > d.floodSeen[f.Device] {
			d.log.Warn("device opens flows at a flood rate; new flows beyond its limit are not tracked",
				"device", f.Device, "not_tracked", f.Capped, "open", f.Open)
		}
		seen[f.Device] = f.Capped
	}
	d.floodSeen = seen
}

// ubusSocket returns the configured ubusd socket, or the first default one
// that exists; "" means this host has no ubus (Debian).
func ubusSocket(cfg *config.Config) string {
	if cfg.UbusSocket != "" {
		return cfg.UbusSocket
	}
	for _, p := range ubus.DefaultSocketPaths {
		if st, err := os.Stat(p); err == nil && st.Mode().Type() == fs.ModeSocket {
			return p
		}
	}
	return ""
}

// startUbus registers the pakon object when ubusd is there. If ubusd is
// not up yet, it keeps trying in the background until ctx ends; the client
// re-registers by itself after ubusd restarts.
func (d *daemon) startUbus(ctx context.Context) *ubus.Client {
	path := ubusSocket(d.cfg)
	if path == "" {
		return nil
	}
	client := ubus.New(ubus.Options{Path: path, Logger: d.log})
	svc := &ubusapi.Service{Engine: d.engine, Backend: d, Alerts: d, Writers: d.mayWrite}
	if err := client.AddObject(ctx, svc.Object()); err != nil {
		d.log.Error("ubus: add object", "err", err)
		return nil
	}
	open := func() bool {
		err := client.Open(ctx)
		if err != nil {
			return false
		}
		d.mu.Lock()
		d.busAttached = true
		d.mu.Unlock()
		d.log.Info("registered on ubus", "object", ubusapi.ObjectName, "socket", path)
		return true
	}
	if !open() {
		d.log.Warn("ubusd not reachable yet; retrying", "socket", path)
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if open() {
						return
					}
				}
			}
		}()
	}
	return client
}

// systemBus is D-Bus's system bus socket; without it there is no dnsmasq
// to hear from over D-Bus.
const systemBus = "/run/dbus/system_bus_socket"

// watchDHCP follows dnsmasq's lease events into the device names: over
// ubus on OpenWrt, over D-Bus on Debian. It returns the watcher's Close.
func (d *daemon) watchDHCP(ctx context.Context, bus *ubus.Client) func(context.Context) error {
	handler := dnsmasq.Names(d.names)
	if bus != nil {
		w := dnsmasq.NewUbus(bus, handler, d.log)
		if err := w.Open(ctx); err != nil {
			d.log.Warn("dnsmasq over ubus", "err", err)
			return nil
		}
		return w.Close
	}
	if _, err := os.Stat(systemBus); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	w := dnsmasq.NewDBus(dnsmasq.DBusOptions{Handler: handler, Logger: d.log})
	if err := w.Open(); err != nil {
		d.log.Warn("dnsmasq over D-Bus", "err", err)
		return nil
	}
	return w.Close
}
