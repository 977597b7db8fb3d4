package query

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// Flows returns the flows matching p, one row each, sorted and paged,
// with the number matching in all.
//
// With name filters (the ignore list, hostname parameters) it first counts
// the matching rows per distinct observed name, decides each name once in
// Go, and passes the names that pass (or the ignored ones) to SQL as one
// bound set; the per-name counts give the total. Archived rows are
// decoded and filtered in Go (see snapshot); when the range holds some,
// the page is the merge of the live rows SQL sorts and the archived ones
// Go selects (see page.go).
func (e *Engine) Flows(ctx context.Context, p Params) (*Result, error) {
	pl, err := e.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	s, err := e.snapshot(ctx, pl)
	if err != nil {
		return nil, err
	}
	defer s.close()
	res := &Result{Rows: []Row{}}
	// One pass over the archived days counts their rows by name and keeps
	// the candidates for the page.
	n := p.Offset + p.Limit
	if p.Limit == 0 {
		n = -1 // every row
	}
	// A deep page in start order merges sorted runs instead (deep.go).
	deep := sortKind(p.Sort) == keyStart && p.Limit > 0 && n > heapMax
	if deep {
		n = 0
	}
	ac, err := pl.archiveCandidates(ctx, s, n)
	if err != nil {
		return nil, err
	}
	var nameCond string
	var nameArgs []any
	var displays map[string]string // observed → display, for sorting by hostname
	if pl.filtersNames() || p.Sort == SortHostname {
		ns, err := pl.nameSets(ctx, s, p.Sort == SortHostname, ac.names)
		if err != nil {
			return nil, err
		}
		res.Total, nameCond, nameArgs, displays = ns.total, ns.cond, ns.args, ns.displays
	} else {
		q := "SELECT count(*)" + s.liveFrom(ctx, pl, liveNames) + pl.where()
		if err := s.conn.QueryRowContext(ctx, q, pl.args...).Scan(&res.Total); err != nil {
			return nil, fmt.Errorf("count flows: %w", err)
		}
		res.Total += ac.total
	}
	if res.Total == 0 || p.Offset >= res.Total {
		return res, nil
	}

	var args []any
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
	args = append(args, pl.args...)
	where := pl.where()
	if nameCond != "" {
		where = pl.where(nameCond)
		args = append(args, nameArgs...)
	}
	dir := " ASC"
	if p.Desc {
		dir = " DESC"
	}
	order := " ORDER BY " + flowOrder(p.Sort) + dir
	if p.Sort != "" && p.Sort != SortStart {
		order += ", f.start" + dir
	}
	order += ", f.id" + dir
	use := liveRows
	if p.Sort == "" || p.Sort == SortStart {
		use = liveStartPage
	}
	from := s.liveFrom(ctx, pl, use)
	if deep && ac.total > 0 {
		rows, err := pl.deepStartPage(ctx, s, ac, prefix+"SELECT "+flowOrder(p.Sort)+", f.start, f.id"+from+join+where+order, args)
		if err != nil {
			return nil, err
		}
		res.Rows = rows
		return res, nil
	}
	if len(ac.cands) > 0 {
		rows, err := pl.mergePage(ctx, s, ac, prefix+"SELECT "+flowOrder(p.Sort)+", f.start, f.id"+from+join+where+order, args)
		if err != nil {
			return nil, err
		}
		res.Rows = rows
		return res, nil
	}
	q := prefix + "SELECT " + flowColumns + from + join + where + order
	if p.Limit > 0 {
		q += " LIMIT ? OFFSET ?"
		args = append(args, p.Limit, p.Offset)
	} else if p.Offset > 0 {
		q += " LIMIT -1 OFFSET ?"
		args = append(args, p.Offset)
	}
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		if err := scanRow(rows, &r); err != nil {
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

// flowColumns are the columns of a Row, read by scanRow.
const flowColumns = "f.start, f.end, f.mac, f.src_ip, f.src_port, f.dest_ip, f.dest_port, f.proto, f.app_proto," +
	" f.observed_name, f.name_source, f.bytes_sent, f.bytes_received, f.active, f.flows"

func scanRow(rows *sql.Rows, r *Row) error {
	return rows.Scan(&r.Start, &r.End, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
		&r.Proto, &r.AppProto, &r.ObservedName, &r.NameSource, &r.BytesSent, &r.BytesReceived,
		&r.Active, &r.Flows)
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
// returns the condition that applies them to live rows in SQL: the
// ignored names as a NOT IN set, or, with hostname parameters, the
// passing names as an IN set. archived are the archived rows' name
// groups (nil counts them here).
func (pl *plan) nameSets(ctx context.Context, s *snapshot, withDisplays bool, archived []nameGroup) (*nameSet, error) {
	groups, err := pl.nameGroups(ctx, s)
	if err != nil {
		return nil, err
	}
	if archived == nil {
		if archived, err = pl.archivedNameGroups(ctx, s); err != nil {
			return nil, err
		}
	}
	groups = append(groups, archived...)
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

// nameGroups counts the matching live rows per distinct observed name.
func (pl *plan) nameGroups(ctx context.Context, s *snapshot) ([]nameGroup, error) {
	hit, hitArgs := pl.ipHitExpr()
	groupBy := " GROUP BY 1, 2"
	if len(hitArgs) == 0 {
		groupBy = " GROUP BY 1" // one sort key fewer
	}
	q := "SELECT f.observed_name, " + hit + ", count(*)" + s.liveFrom(ctx, pl, liveNames) + pl.where() + groupBy
	rows, err := s.conn.QueryContext(ctx, q, append(hitArgs, pl.args...)...)
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

// archivedNameGroups counts the matching archived rows per observed name.
func (pl *plan) archivedNameGroups(ctx context.Context, s *snapshot) ([]nameGroup, error) {
	ac, err := pl.archiveCandidates(ctx, s, 0)
	if err != nil {
		return nil, err
	}
	return ac.names, nil
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
