package query

import (
	"context"
	"fmt"
	"sort"
)

// Flows returns the flows matching p, one row each, sorted and paged,
// with the number matching in all.
//
// With name filters (the ignore list, hostname parameters) it first counts
// the matching rows per distinct observed name in SQL, decides each name
// once in Go, and passes the names that pass (or the ignored ones) back as
// one bound set; the per-name counts give the total.
func (e *Engine) Flows(ctx context.Context, p Params) (*Result, error) {
	pl, err := e.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	res := &Result{Rows: []Row{}}
	var nameCond string
	var nameArgs []any
	var displays map[string]string // observed → display, for sorting by hostname
	if pl.filtersNames() || p.Sort == SortHostname {
		ns, err := pl.nameSets(ctx, e, p.Sort == SortHostname)
		if err != nil {
			return nil, err
		}
		res.Total, nameCond, nameArgs, displays = ns.total, ns.cond, ns.args, ns.displays
	} else {
		q := "SELECT count(*)" + fromFlows + pl.where()
		if err := e.db.SQL().QueryRowContext(ctx, q, pl.args...).Scan(&res.Total); err != nil {
			return nil, fmt.Errorf("count flows: %w", err)
		}
	}
	if res.Total == 0 || p.Offset >= res.Total {
		return res, nil
	}

	var args []any
	q := "SELECT f.start, f.end, f.mac, f.src_ip, f.src_port, f.dest_ip, f.dest_port, f.proto, f.app_proto," +
		" f.observed_name, f.name_source, f.bytes_sent, f.bytes_received, f.active, f.flows"
	prefix, join := "", ""
	switch p.Sort {
	case SortHostname:
		prefix = "WITH hm(k, v) AS MATERIALIZED (SELECT key, value FROM json_each(?)) "
		join = " LEFT JOIN hm ON hm.k = f.observed_name"
		args = append(args, jsonObject(displays))
	case SortDevice:
		prefix = "WITH dm(k, v) AS MATERIALIZED (SELECT key, value FROM json_each(?)) "
		join = " LEFT JOIN dm ON dm.k = f.mac"
		args = append(args, jsonObject(pl.devs.all()))
	}
	q = prefix + q + fromFlows + join
	args = append(args, pl.args...)
	if nameCond != "" {
		q += pl.where(nameCond)
		args = append(args, nameArgs...)
	} else {
		q += pl.where()
	}
	dir := " ASC"
	if p.Desc {
		dir = " DESC"
	}
	q += " ORDER BY " + flowOrder(p.Sort) + dir
	if p.Sort != "" && p.Sort != SortStart {
		q += ", f.start" + dir
	}
	q += ", f.id" + dir
	if p.Limit > 0 {
		q += " LIMIT ? OFFSET ?"
		args = append(args, p.Limit, p.Offset)
	} else if p.Offset > 0 {
		q += " LIMIT -1 OFFSET ?"
		args = append(args, p.Offset)
	}
	rows, err := e.db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Start, &r.End, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
			&r.Proto, &r.AppProto, &r.ObservedName, &r.NameSource, &r.BytesSent, &r.BytesReceived,
			&r.Active, &r.Flows); err != nil {
			return nil, fmt.Errorf("query flows: %w", err)
		}
		pl.finish(&r)
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	return res, nil
}

// flowOrder is the ORDER BY expression of a sort key.
func flowOrder(key string) string {
	switch key {
	case SortEnd:
		return "f.end"
	case SortDuration:
		return "(f.end - f.start)"
	case SortBytes:
		return "(f.bytes_sent + f.bytes_received)"
	case SortSent:
		return "f.bytes_sent"
	case SortReceived:
		return "f.bytes_received"
	case SortFlows:
		return "f.flows"
	case SortMAC:
		return "f.mac"
	case SortDevice:
		return "coalesce(dm.v, CASE WHEN f.mac = '' THEN f.src_ip ELSE f.mac END) COLLATE NOCASE"
	case SortHostname:
		return "(CASE WHEN f.observed_name = '' THEN f.dest_ip ELSE coalesce(hm.v, f.observed_name) END)"
	case SortPort:
		return "f.dest_port"
	case SortProto:
		return "f.proto"
	case SortApp:
		return "f.app_proto"
	}
	return "f.start"
}

// nameSet is the outcome of the name filters on the rows of a plan.
type nameSet struct {
	total    int               // rows passing
	cond     string            // SQL condition keeping them ("" for all)
	args     []any             // its arguments
	displays map[string]string // observed → display name, when asked for
}

// nameSets decides the name filters once per distinct observed name and
// returns the condition that applies them in SQL: the ignored names as a
// NOT IN set, or, with hostname parameters, the passing names as an IN
// set.
func (pl *plan) nameSets(ctx context.Context, e *Engine, withDisplays bool) (*nameSet, error) {
	groups, err := pl.nameGroups(ctx, e)
	if err != nil {
		return nil, err
	}
	ns := &nameSet{}
	if withDisplays {
		ns.displays = map[string]string{}
	}
	var passing, ignored []string
	seenPass, seenIgn := map[string]bool{}, map[string]bool{}
	for _, g := range groups {
		if pl.passes(g.observed, g.ipHit) {
			ns.total += g.n
		}
		ni := pl.infos.get(g.observed)
		if ns.displays != nil && g.observed != "" {
			ns.displays[g.observed] = ni.display
		}
		if pl.ignore && ni.ignored && !seenIgn[g.observed] {
			seenIgn[g.observed] = true
			ignored = append(ignored, g.observed)
		}
		if !pl.hosts.empty() && pl.passes(g.observed, false) && !seenPass[g.observed] {
			seenPass[g.observed] = true
			passing = append(passing, g.observed)
		}
	}
	switch {
	case pl.hosts.empty() && len(ignored) > 0:
		ns.cond, ns.args = "f.observed_name NOT IN "+jsonSet, []any{jsonArray(ignored)}
	case !pl.hosts.empty() && len(pl.hosts.ips) > 0:
		ns.cond = "(f.observed_name IN " + jsonSet + " OR (f.dest_ip IN " + jsonSet +
			" AND f.observed_name NOT IN " + jsonSet + "))"
		ns.args = []any{jsonArray(passing), jsonArray(pl.hosts.ips), jsonArray(ignored)}
	case !pl.hosts.empty():
		ns.cond, ns.args = "f.observed_name IN "+jsonSet, []any{jsonArray(passing)}
	}
	return ns, nil
}

// nameGroup is the number of rows with one observed name, split by
// whether their destination is one of the hostname addresses.
type nameGroup struct {
	observed string
	ipHit    bool
	n        int
}

// nameGroups counts the matching rows per distinct observed name.
func (pl *plan) nameGroups(ctx context.Context, e *Engine) ([]nameGroup, error) {
	hit, hitArgs := pl.ipHitExpr()
	q := "SELECT f.observed_name, " + hit + ", count(*)" + fromFlows + pl.where() + " GROUP BY 1, 2"
	rows, err := e.db.SQL().QueryContext(ctx, q, append(hitArgs, pl.args...)...)
	if err != nil {
		return nil, fmt.Errorf("count flows by name: %w", err)
	}
	defer rows.Close()
	var out []nameGroup
	for rows.Next() {
		var g nameGroup
		if err := rows.Scan(&g.observed, &g.ipHit, &g.n); err != nil {
			return nil, fmt.Errorf("count flows by name: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count flows by name: %w", err)
	}
	return out, nil
}

// finish fills the fields computed in Go: names and duration.
func (pl *plan) finish(r *Row) {
	r.Duration = r.End - r.Start
	if name, src, ok := pl.devs.name(r.MAC); ok {
		r.Device, r.DeviceSource = &name, src
	}
	if r.ObservedName == "" {
		r.Hostname = r.DestIP
		return
	}
	ni := pl.infos.get(r.ObservedName)
	r.Hostname, r.HostnameUnicode = ni.display, ni.unicode
}

func jsonObject(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	return jsonMarshal(m)
}

// sortedKeys returns the keys of m in order (for deterministic output).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
