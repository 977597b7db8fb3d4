package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/rules"
)

// AlertParams select alerts. An alert row stands for the matches of one
// rule on one device and host in one direction on one UTC day; it matches
// [Start, End] when its first and last match overlap it.
type AlertParams struct {
	Start, End time.Time
	// Devices and Hostnames select as for flows (see the package doc);
	// an alert without a host name is matched by its remote address.
	Devices   []string
	Hostnames []string
	// Severities ("severity") keeps alerts of these severities (1 high …
	// 4 informational).
	Severities []int
	// SIDs ("sid") keeps alerts of these signature ids.
	SIDs []int
	// Engine ("engine") selects Suricata's own protocol-anomaly alerts
	// (decoder, stream, app-layer events) instead of the threat rules';
	// they are kept apart because they say little about a device.
	Engine bool
	// Sort ("sort") is one of AlertSortKeys, by default last. Each key has
	// a natural order (last, count: largest first; severity: highest
	// first, then most recent; the others ascending); Desc reverses it.
	Sort string
	Desc bool
	// Limit and Offset page the rows; Limit 0 means all.
	Limit, Offset int
}

// AlertSortKeys lists the accepted AlertParams.Sort values.
func AlertSortKeys() []string {
	return []string{"last", "first", "count", "severity", "device", "hostname", "sid"}
}

// AlertRow is one folded alert as shown to users. Times are UTC epoch
// seconds; ID identifies the row for Explain.
type AlertRow struct {
	ID           int64   `json:"id"`
	FirstSeen    float64 `json:"first_seen"`
	LastSeen     float64 `json:"last_seen"`
	Count        int64   `json:"count"`
	MAC          string  `json:"mac"`
	Device       *string `json:"device"`
	DeviceSource string  `json:"device_source,omitempty"`
	SrcIP        string  `json:"src_ip"`
	SrcPort      int     `json:"src_port"`
	DestIP       string  `json:"dest_ip"`
	DestPort     int     `json:"dest_port"`
	Proto        string  `json:"proto"`
	AppProto     string  `json:"app_proto"`
	// Hostname is the name the alert is about, or dest_ip without one.
	Hostname        string `json:"hostname"`
	HostnameUnicode string `json:"hostname_unicode,omitempty"`
	NameSource      string `json:"name_source"`
	// Inbound is true when the remote side started the flow.
	Inbound      bool                `json:"inbound"`
	FlowID       int64               `json:"flow_id,omitempty"`
	GID          uint32              `json:"gid"`
	SID          uint32              `json:"sid"`
	Rev          uint32              `json:"rev"`
	Signature    string              `json:"signature"`
	Category     string              `json:"category"`
	Severity     int                 `json:"severity"`
	SeverityName string              `json:"severity_name"`
	Action       string              `json:"action"`
	Metadata     map[string][]string `json:"metadata,omitempty"`
	Engine       bool                `json:"engine"`
}

// AlertResult is a page of alerts and the number matching in all.
type AlertResult struct {
	Rows  []AlertRow `json:"rows"`
	Total int        `json:"total"`
}

const alertSelect = `SELECT key, first_seen, last_seen, count, mac, src_ip, src_port, dest_ip, dest_port, proto,
	app_proto, hostname, name_source, inbound, coalesce(flow_id, 0), gid, sid, rev, signature, category, severity,
	action, metadata, engine FROM alerts a`

// Alerts returns the alerts matching p, sorted and paged. Alerts are few
// once folded, so the host name filter, sorting and paging run in Go.
func (e *Engine) Alerts(ctx context.Context, p AlertParams) (*AlertResult, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	hosts, err := parseHostnames(p.Hostnames)
	if err != nil {
		return nil, err
	}
	e.refreshNames()
	devs, err := e.loadDeviceNames(ctx)
	if err != nil {
		return nil, err
	}
	macs, ips, err := devs.resolve(p.Devices)
	if err != nil {
		return nil, err
	}
	conds, args := []string{"a.engine = ?"}, []any{p.Engine}
	if !p.Start.IsZero() {
		conds, args = append(conds, "a.last_seen >= ?"), append(args, seconds(p.Start))
	}
	if !p.End.IsZero() {
		conds, args = append(conds, "a.first_seen <= ?"), append(args, seconds(p.End))
	}
	if len(macs)+len(ips) > 0 {
		conds = append(conds, "(a.mac IN "+jsonSet+" OR (a.mac = '' AND a.src_ip IN "+jsonSet+"))")
		args = append(args, jsonArray(macs), jsonArray(ips))
	}
	if len(p.Severities) > 0 {
		conds, args = append(conds, "a.severity IN "+jsonSet), append(args, jsonArray(p.Severities))
	}
	if len(p.SIDs) > 0 {
		conds, args = append(conds, "a.sid IN "+jsonSet), append(args, jsonArray(p.SIDs))
	}
	rows, err := e.db.SQL().QueryContext(ctx, alertSelect+" WHERE "+strings.Join(conds, " AND "), args...)
	if err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	in := newInfos(nil) // alerts show names as matched: lists neither merge nor hide them
	var all []AlertRow
	for rows.Next() {
		r, err := scanAlert(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("query alerts: %w", err)
		}
		if !hosts.empty() && !slices.Contains(hosts.ips, r.DestIP) &&
			!(r.Hostname != "" && hosts.matches(r.Hostname, in.get(r.Hostname))) {
			continue
		}
		finishAlert(&r, devs)
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	sortAlerts(all, p.Sort, p.Desc)
	res := &AlertResult{Rows: []AlertRow{}, Total: len(all)}
	if p.Offset < len(all) {
		all = all[p.Offset:]
		if p.Limit > 0 && len(all) > p.Limit {
			all = all[:p.Limit]
		}
		res.Rows = all
	}
	return res, nil
}

func (p *AlertParams) validate() error {
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		return invalidf("end", "end is before start")
	}
	if p.Limit < 0 {
		return invalidf("limit", "negative limit %d", p.Limit)
	}
	if p.Offset < 0 {
		return invalidf("offset", "negative offset %d", p.Offset)
	}
	if p.Sort != "" && !slices.Contains(AlertSortKeys(), p.Sort) {
		return invalidf("sort", "unknown sort key %q (want one of %s)", p.Sort, strings.Join(AlertSortKeys(), ", "))
	}
	for _, s := range p.Severities {
		if s < 1 || s > 255 {
			return invalidf("severity", "severity %d out of range 1-255", s)
		}
	}
	for _, s := range p.SIDs {
		if s < 1 || int64(s) > 1<<32-1 {
			return invalidf("sid", "signature id %d out of range", s)
		}
	}
	if len(p.Devices) > maxValues || len(p.Hostnames) > maxValues || len(p.SIDs) > maxValues {
		return invalidf("device", "more than %d values", maxValues)
	}
	return nil
}

func scanAlert(rows *sql.Rows) (AlertRow, error) {
	var r AlertRow
	var meta string
	err := rows.Scan(&r.ID, &r.FirstSeen, &r.LastSeen, &r.Count, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
		&r.Proto, &r.AppProto, &r.Hostname, &r.NameSource, &r.Inbound, &r.FlowID, &r.GID, &r.SID, &r.Rev,
		&r.Signature, &r.Category, &r.Severity, &r.Action, &meta, &r.Engine)
	if err == nil && meta != "" {
		json.Unmarshal([]byte(meta), &r.Metadata) // written by the store; a bad value only loses the metadata
	}
	return r, err
}

func finishAlert(r *AlertRow, devs *deviceNames) {
	if name, src, ok := devs.name(r.MAC); ok {
		r.Device, r.DeviceSource = &name, src
	}
	r.SeverityName = rules.SeverityName(r.Severity)
	if r.Hostname == "" {
		r.Hostname = r.DestIP
	} else if u := lists.Unicode(r.Hostname); u != r.Hostname {
		r.HostnameUnicode = u
	}
}

func sortAlerts(rows []AlertRow, key string, desc bool) {
	cmpStr := func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
	dev := func(r *AlertRow) string {
		if r.Device != nil {
			return *r.Device
		}
		if r.MAC == "" {
			return r.SrcIP
		}
		return r.MAC
	}
	natural := func(a, b *AlertRow) int {
		switch key {
		case "first":
			return cmpFloat(a.FirstSeen, b.FirstSeen)
		case "count":
			return -cmpInt(a.Count, b.Count)
		case "severity":
			if c := cmpInt(int64(a.Severity), int64(b.Severity)); c != 0 {
				return c
			}
			return -cmpFloat(a.LastSeen, b.LastSeen)
		case "device":
			return cmpStr(dev(a), dev(b))
		case "hostname":
			return cmpStr(a.Hostname, b.Hostname)
		case "sid":
			return cmpInt(int64(a.SID), int64(b.SID))
		}
		return -cmpFloat(a.LastSeen, b.LastSeen)
	}
	slices.SortStableFunc(rows, func(a, b AlertRow) int {
		c := natural(&a, &b)
		if c == 0 {
			c = -cmpFloat(a.LastSeen, b.LastSeen)
		}
		if c == 0 {
			c = cmpInt(a.ID, b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AlertSummary counts alerts for the status method and the overview.
type AlertSummary struct {
	// Rows and Matches count the folded threat-rule alerts since the time
	// asked for, and the matches they stand for.
	Rows    int64 `json:"rows"`
	Matches int64 `json:"matches"`
	// BySeverity counts rows per severity name ("high", …).
	BySeverity map[string]int64 `json:"by_severity"`
	// Devices is how many devices have alerts.
	Devices int64 `json:"devices"`
	// Engine counts engine-event rows apart.
	Engine int64 `json:"engine"`
	// Last is the time of the latest match, 0 without any.
	Last float64 `json:"last"`
}

// AlertSummary counts the alerts last seen at or after since.
func (e *Engine) AlertSummary(ctx context.Context, since time.Time) (*AlertSummary, error) {
	s := &AlertSummary{BySeverity: map[string]int64{}}
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT engine, severity, count(*), sum(count), max(last_seen)
		FROM alerts WHERE last_seen >= ? GROUP BY engine, severity`,
		seconds(since))
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var engine bool
		var sev int
		var n, m int64
		var last float64
		if err := rows.Scan(&engine, &sev, &n, &m, &last); err != nil {
			return nil, fmt.Errorf("count alerts: %w", err)
		}
		s.Last = max(s.Last, last)
		if engine {
			s.Engine += n
			continue
		}
		s.Rows += n
		s.Matches += m
		s.BySeverity[rules.SeverityName(sev)] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	err = e.db.SQL().QueryRowContext(ctx, `SELECT count(DISTINCT CASE WHEN mac = '' THEN src_ip ELSE mac END)
		FROM alerts WHERE last_seen >= ? AND engine = 0`, seconds(since)).Scan(&s.Devices)
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	return s, nil
}
