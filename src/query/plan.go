package query

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pakon/pakon/src/store"
)

// maxValues bounds each list parameter, so one request cannot make a
// huge statement.
const maxValues = 1000

// plan is a validated query: the conditions SQL evaluates on each row,
// and the name filters evaluated once per distinct observed name.
type plan struct {
	p        Params
	from, to float64 // 0 when open
	conds    []string
	// movingRead: the conditions include those of the days being moved
	// (read when the first snapshot opens).
	movingRead bool
	args       []any
	hosts      hostFilter
	ignore     bool // hide names on the ignore list
	infos      *infos
	devs       *deviceNames
	// The row conditions' values, for the archived rows Go filters.
	macs, ips    []string
	apps, protos []string // lower case
	ports        []int
}

// validate checks the parameters that need no database.
func (p *Params) validate() error {
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		return invalidf("end", "end %s is before start %s", p.End.UTC().Format("2006-01-02T15:04:05Z"),
			p.Start.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if p.Limit < 0 {
		return invalidf("limit", "negative limit %d", p.Limit)
	}
	if p.Offset < 0 {
		return invalidf("offset", "negative offset %d", p.Offset)
	}
	if p.Sort != "" && !validSort(p.Sort) {
		return invalidf("sort", "unknown sort key %q (want one of %s)", p.Sort, sortKeyList())
	}
	for name, n := range map[string]int{"device": len(p.Devices), "hostname": len(p.Hostnames),
		"app_proto": len(p.AppProtos), "dest_port": len(p.DestPorts), "proto": len(p.Protos)} {
		if n > maxValues {
			return invalidf(name, "%d values, more than %d", n, maxValues)
		}
	}
	for _, port := range p.DestPorts {
		if port < 0 || port > 65535 {
			return invalidf("dest_port", "port %d out of range 0-65535", port)
		}
	}
	for _, v := range p.Protos {
		if !isToken(v) {
			return invalidf("proto", "invalid protocol %q (want tcp, udp, icmp, …)", v)
		}
	}
	for _, v := range p.AppProtos {
		if !isToken(v) {
			return invalidf("app_proto", "invalid application protocol %q (want tls, http, quic, …)", v)
		}
	}
	return nil
}

// isToken accepts protocol names as Suricata writes them: letters,
// digits, "-" and "_".
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// plan validates p and builds the row conditions.
func (e *Engine) plan(ctx context.Context, p Params) (*plan, error) {
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
	l := e.Lists()
	_, ignoreEntries := l.Len()
	pl := &plan{p: p, hosts: hosts, ignore: !p.NoFilter && ignoreEntries > 0, infos: newInfos(l), devs: devs,
		macs: macs, ips: ips, apps: lower(p.AppProtos), protos: lower(p.Protos), ports: p.DestPorts}
	if !p.Start.IsZero() {
		pl.from = seconds(p.Start)
		pl.add("f.end >= ?", pl.from)
	}
	if !p.End.IsZero() {
		pl.to = seconds(p.End)
		pl.add("f.start <= ?", pl.to)
	}
	switch {
	case len(macs) > 0 && len(ips) > 0:
		pl.add("(f.mac IN "+jsonSet+" OR f.src_ip IN "+jsonSet+")", jsonArray(macs), jsonArray(ips))
	case len(macs) == 1:
		pl.add("f.mac = ?", macs[0])
	case len(macs) > 0:
		pl.add("f.mac IN "+jsonSet, jsonArray(macs))
	case len(ips) > 0:
		pl.add("f.src_ip IN "+jsonSet, jsonArray(ips))
	}
	if len(p.AppProtos) > 0 {
		pl.add("f.app_proto IN "+jsonSet, jsonArray(lower(p.AppProtos)))
	}
	if len(p.DestPorts) > 0 {
		pl.add("f.dest_port IN "+jsonSet, jsonArray(p.DestPorts))
	}
	if len(p.Protos) > 0 {
		pl.add("lower(f.proto) IN "+jsonSet, jsonArray(lower(p.Protos)))
	}
	if p.Active {
		pl.add("f.active = 1")
	}
	return pl, nil
}

// jsonSet reads a set passed as one bound JSON array.
const jsonSet = "(SELECT value FROM json_each(?))"

func (pl *plan) add(cond string, args ...any) {
	pl.conds = append(pl.conds, cond)
	pl.args = append(pl.args, args...)
}

// where returns the WHERE clause of the row conditions plus extra ones,
// and its arguments.
func (pl *plan) where(extra ...string) string {
	conds := slices.Concat(pl.conds, extra)
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// filtersNames reports whether rows must be checked against the name
// filters (ignore list, hostname parameters).
func (pl *plan) filtersNames() bool { return pl.ignore || !pl.hosts.empty() }

// ipHitExpr is a SELECT column telling whether a row's destination is
// one of the hostname addresses, with its argument; "0" without any.
func (pl *plan) ipHitExpr() (string, []any) {
	if len(pl.hosts.ips) == 0 {
		return "0", nil
	}
	return "(f.dest_ip IN " + jsonSet + ")", []any{jsonArray(pl.hosts.ips)}
}

// passes reports whether rows with this observed name (whose destination
// is, or is not, one of the hostname addresses) pass the name filters.
func (pl *plan) passes(observed string, ipHit bool) bool {
	ni := pl.infos.get(observed)
	if pl.ignore && ni.ignored {
		return false
	}
	if pl.hosts.empty() || ipHit || pl.hosts.matches(observed, ni) {
		return true
	}
	return slices.Contains(pl.hosts.ips, observed)
}

// hostKey returns the display hostname of a flow.
func (pl *plan) hostKey(observed, destIP string) string {
	if observed == "" {
		return destIP
	}
	return pl.infos.get(observed).display
}

// fromFlows reads all_flows, aliased f in every query.
const fromFlows = " FROM " + store.AllFlows + " f"

// fromLive reads the live database's flows, aliased f like all_flows; the
// engine reads archived flows from their segments (see snapshot).
const fromLive = " FROM main.flows f"

func jsonArray[T any](v []T) string {
	if v == nil {
		return "[]"
	}
	return jsonMarshal(v)
}

func jsonMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode query set: %v", err)) // strings and ints always encode
	}
	return string(b)
}

func lower(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.ToLower(s)
	}
	return out
}
