package query

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/store"
)

// What Top ranks and by what.
const (
	ByHostname = "hostname"
	ByDevice   = "device"

	MetricBytes = "bytes"
	MetricTime  = "time"
	MetricFlows = "flows"
)

// DefaultTopN is how many entries Top returns when N is 0.
const DefaultTopN = 10

// TopParams select a ranking. Params.Sort, Limit and Offset are not used.
type TopParams struct {
	Params
	// By ("by") ranks hostnames (ByHostname, the default) or devices
	// (ByDevice).
	By string
	// Metric ("metric") ranks by bytes in both directions (MetricBytes,
	// the default), by time (MetricTime: how long at least one flow was
	// open, the union of the flows' intervals within the range, so
	// parallel connections are not counted twice), or by flows.
	Metric string
	// N ("n") is how many entries to return; 0 means DefaultTopN.
	N int
}

// TopEntry is one ranked hostname or device.
type TopEntry struct {
	// Key is the display hostname, or the device's MAC (its address when
	// the MAC is unknown).
	Key             string  `json:"key"`
	HostnameUnicode string  `json:"hostname_unicode,omitempty"`
	MAC             string  `json:"mac,omitempty"`
	Device          *string `json:"device,omitempty"`
	DeviceSource    string  `json:"device_source,omitempty"`
	BytesSent       int64   `json:"bytes_sent"`
	BytesReceived   int64   `json:"bytes_received"`
	Flows           int     `json:"flows"`
	// Time is the seconds during which a flow was open; computed for
	// MetricTime only.
	Time float64 `json:"time,omitempty"`
}

// TopResult holds the top entries, the rest summed into Other, and the
// number of entries in all.
type TopResult struct {
	Rows  []TopEntry `json:"rows"`
	Other *TopEntry  `json:"other,omitempty"`
	Total int        `json:"total"`
}

func (p *TopParams) validate() error {
	switch p.By {
	case "", ByHostname, ByDevice:
	default:
		return invalidf("by", "unknown ranking %q (want hostname or device)", p.By)
	}
	switch p.Metric {
	case "", MetricBytes, MetricTime, MetricFlows:
	default:
		return invalidf("metric", "unknown metric %q (want bytes, time or flows)", p.Metric)
	}
	if p.N < 0 || p.N > 10000 {
		return invalidf("n", "%d entries out of range 0-10000", p.N)
	}
	return nil
}

// Top ranks the hostnames or devices of the flows matching p.Params.
func (e *Engine) Top(ctx context.Context, p TopParams) (*TopResult, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	p.Sort, p.Limit, p.Offset = "", 0, 0
	pl, err := e.plan(ctx, p.Params)
	if err != nil {
		return nil, err
	}
	s, err := e.snapshot(ctx, pl)
	if err != nil {
		return nil, err
	}
	defer s.close()
	byDevice := p.By == ByDevice
	entries := map[string]*TopEntry{}
	err = pl.groupsIn(ctx, s, false, func(g *groupRow) {
		k := pl.hostKey(g.observed, g.hostIP)
		if byDevice {
			k = g.deviceKey()
		}
		t := entries[k]
		if t == nil {
			t = &TopEntry{Key: k}
			if byDevice {
				t.Key, t.MAC = strings.TrimPrefix(k, "ip:"), g.mac
			}
			entries[k] = t
		}
		t.BytesSent += g.sent
		t.BytesReceived += g.received
		t.Flows += g.flows
	})
	if err != nil {
		return nil, err
	}
	if p.Metric == MetricTime {
		times, err := pl.openTime(ctx, s, byDevice)
		if err != nil {
			return nil, err
		}
		for k, t := range times {
			if en := entries[k]; en != nil {
				en.Time = t
			}
		}
	}
	all := make([]*TopEntry, 0, len(entries))
	for _, t := range entries {
		if byDevice {
			if name, src, ok := pl.devs.name(t.MAC); ok {
				t.Device, t.DeviceSource = &name, src
			}
		} else {
			t.HostnameUnicode = unicodeOf(t.Key)
		}
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b *TopEntry) int {
		var c int
		switch p.Metric {
		case MetricTime:
			c = cmp.Compare(b.Time, a.Time)
		case MetricFlows:
			c = cmp.Compare(b.Flows, a.Flows)
		}
		return cmp.Or(c, cmp.Compare(b.BytesSent+b.BytesReceived, a.BytesSent+a.BytesReceived),
			strings.Compare(a.Key, b.Key))
	})
	n := p.N
	if n == 0 {
		n = DefaultTopN
	}
	res := &TopResult{Rows: []TopEntry{}, Total: len(all)}
	for i, t := range all {
		if i < n {
			res.Rows = append(res.Rows, *t)
			continue
		}
		if res.Other == nil {
			res.Other = &TopEntry{Key: ""}
		}
		res.Other.BytesSent += t.BytesSent
		res.Other.BytesReceived += t.BytesReceived
		res.Other.Flows += t.Flows
		res.Other.Time += t.Time
	}
	return res, nil
}

// unicodeOf returns the Unicode form of a display name if it differs.
func unicodeOf(name string) string {
	if u := lists.Unicode(name); u != name {
		return u
	}
	return ""
}

// openTime computes, per hostname or device, how long at least one
// matching flow was open within the range: the union of the flows'
// intervals, clipped to the range. SQL reads the live rows' clipped
// intervals (and the name filters), Go the archived ones; Go merges them
// per key.
func (pl *plan) openTime(ctx context.Context, s *snapshot, byDevice bool) (map[string]float64, error) {
	var ns *nameSet
	if pl.filtersNames() {
		var err error
		if ns, err = pl.nameSets(ctx, s, false, []nameGroup{}); err != nil {
			return nil, err
		}
	}
	lo, hi := pl.from, pl.to
	if pl.p.Start.IsZero() {
		lo = -math.MaxFloat64
	}
	if pl.p.End.IsZero() {
		hi = math.MaxFloat64
	}
	cols := "f.observed_name, CASE WHEN f.observed_name = '' THEN f.dest_ip ELSE '' END"
	if byDevice {
		cols = "f.mac, CASE WHEN f.mac = '' THEN f.src_ip ELSE '' END"
	}
	args := append([]any{lo, hi}, pl.args...)
	q := "SELECT " + cols + ", max(f.start, ?), min(f.end, ?)" + s.liveFrom(ctx, pl, liveRows)
	if ns != nil && ns.cond != "" {
		q += pl.where(ns.cond)
		args = append(args, ns.args...)
	} else {
		q += pl.where()
	}
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("open time: %w", err)
	}
	defer rows.Close()
	type span struct{ s, e float64 }
	spans := map[string][]span{}
	for rows.Next() {
		var a, b string
		var sp span
		if err := rows.Scan(&a, &b, &sp.s, &sp.e); err != nil {
			return nil, fmt.Errorf("open time: %w", err)
		}
		k := pl.hostKey(a, b)
		if byDevice {
			k = (&groupRow{mac: a, devIP: b}).deviceKey()
		}
		spans[k] = append(spans[k], sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open time: %w", err)
	}
	y := s.sym
	pc := newPassCache(pl, y)
	keys := map[[2]int64]string{}
	need := colSet(store.ColName, store.ColDestIP)
	if byDevice {
		need |= colSet(store.ColMAC, store.ColSrcIP)
	}
	err = s.eachDay(ctx, need, false, func(b *batch) error {
		for _, j := range b.sel {
			name, dest := b.col[store.ColName][j], b.col[store.ColDestIP][j]
			if pl.filtersNames() && !pc.passes(name, pc.hit(dest)) {
				continue
			}
			kk := [2]int64{name, y.empty}
			if name == y.empty {
				kk[1] = dest
			}
			if byDevice {
				kk = [2]int64{b.col[store.ColMAC][j], y.empty}
				if kk[0] == y.empty {
					kk[1] = b.col[store.ColSrcIP][j]
				}
			}
			k, ok := keys[kk]
			if !ok {
				k = pl.hostKey(y.str(kk[0]), y.str(kk[1]))
				if byDevice {
					k = (&groupRow{mac: y.str(kk[0]), devIP: y.str(kk[1])}).deviceKey()
				}
				keys[kk] = k
			}
			spans[k] = append(spans[k], span{max(b.start[j], lo), min(b.end[j], hi)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(spans))
	for k, list := range spans {
		slices.SortFunc(list, func(x, y span) int { return cmp.Compare(x.s, y.s) })
		total, reach := 0.0, math.Inf(-1)
		for _, sp := range list {
			if from := max(sp.s, reach); sp.e > from {
				total += sp.e - from
			}
			reach = max(reach, sp.e)
		}
		out[k] = total
	}
	return out, nil
}
