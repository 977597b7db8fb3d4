package query

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	// The live rows are counted (per name) on the connection while
	// workers may still decode archived days.
	byName := pl.filtersNames() || p.Sort == SortHostname
	var live []nameGroup
	liveCount := func() error {
		if byName {
			var err error
			live, err = pl.nameGroups(ctx, s)
			return err
		}
		q := "SELECT count(*)" + s.liveFrom(ctx, pl, liveNames) + pl.where()
		if err := s.conn.QueryRowContext(ctx, q, pl.args...).Scan(&res.Total); err != nil {
			return fmt.Errorf("count flows: %w", err)
		}
		return nil
	}
	ac, err := pl.archiveCandidates(ctx, s, n, liveCount)
	if err != nil {
		return nil, err
	}
	var nameCond string
	var nameArgs []any
	var displays map[string]string // observed → display, for sorting by hostname
	if byName {
		ns := pl.nameSetOf(append(live, ac.names...), p.Sort == SortHostname)
		res.Total, nameCond, nameArgs, displays = ns.total, ns.cond, ns.args, ns.displays
	} else {
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
	baseArgs := slices.Clip(args) // the prefix's and the plan's, before the name condition's
	where := pl.where()
	if nameCond != "" {
		where = pl.where(nameCond)
		args = append(args, nameArgs...)
	}
	orderBy := func(desc bool) string {
		dir := " ASC"
		if desc {
			dir = " DESC"
		}
		order := " ORDER BY " + flowOrder(p.Sort) + dir
		if p.Sort != "" && p.Sort != SortStart {
			order += ", f.start" + dir
		}
		return order + ", f.id" + dir
	}
	order := orderBy(p.Desc)
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
		live := func(cond string, condArgs ...any) (string, []any) {
			w, a := where, args
			if cond != "" {
				conds := []string{cond}
				if nameCond != "" {
					conds = append(conds, nameCond)
				}
				w, a = pl.where(conds...), slices.Concat(baseArgs, condArgs, nameArgs)
			}
			return prefix + "SELECT " + flowOrder(p.Sort) + ", f.start, f.id" + from + join + w + order, a
		}
		rows, err := pl.mergePage(ctx, s, ac, live)
		if err != nil {
			return nil, err
		}
		res.Rows = rows
		return res, nil
	}
	// A page in the back half of the rows (all live, counted exactly) is
	// read from the other end: the order is total (key, start, id), so
	// the same rows come back, in reverse.
	reverse := p.Limit > 0 && ac.total == 0 && p.Offset > res.Total/2
	q := prefix + "SELECT " + flowColumns + from + join + where + order
	switch {
	case reverse:
		end := min(p.Offset+p.Limit, res.Total)
		q = prefix + "SELECT " + flowColumns + from + join + where + orderBy(!p.Desc) + " LIMIT ? OFFSET ?"
		args = append(args, end-p.Offset, res.Total-end)
	case p.Limit > 0:
		q += " LIMIT ? OFFSET ?"
		args = append(args, p.Limit, p.Offset)
	case p.Offset > 0:
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
	if reverse {
		slices.Reverse(res.Rows)
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
	return pl.nameSetOf(append(groups, archived...), withDisplays), nil
}

// nameSetOf is nameSets over the live and archived rows' name groups.
func (pl *plan) nameSetOf(groups []nameGroup, withDisplays bool) *nameSet {
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
	return ns
}

// nameGroup is the number of rows with one observed name, split by
// whether their destination is one of the hostname addresses.
type nameGroup struct {
	observed string
	ipHit    bool
	n        int
}

// nameGroups counts the matching live rows per distinct observed name.
// SQLite returns the rows' names as one value, counted in Go: a GROUP BY
// would sort tens of thousands of rows for a few thousand names.
func (pl *plan) nameGroups(ctx context.Context, s *snapshot) ([]nameGroup, error) {
	hit, hitArgs := pl.ipHitExpr()
	from := s.liveFrom(ctx, pl, liveNames) + pl.where()
	if len(hitArgs) == 0 {
		// The names alone, NUL between them: a name holding a NUL shows
		// as more names than rows, and is read the long way.
		var rows int
		var list sql.NullString
		q := "SELECT count(*), group_concat(f.observed_name, char(0))" + from
		if err := s.conn.QueryRowContext(ctx, q, pl.args...).Scan(&rows, &list); err != nil {
			return nil, fmt.Errorf("count flows by name: %w", err)
		}
		if out, ok := countNameList(list.String, rows); ok {
			return out, nil
		}
	}
	q := "SELECT group_concat(length(CAST(f.observed_name AS BLOB)) || ',' || " + hit + " || ',' || f.observed_name, '')" + from
	var list sql.NullString
	if err := s.conn.QueryRowContext(ctx, q, append(hitArgs, pl.args...)...).Scan(&list); err != nil {
		return nil, fmt.Errorf("count flows by name: %w", err)
	}
	out, err := countNames(list.String)
	if err != nil {
		return nil, fmt.Errorf("count flows by name: %w", err)
	}
	return out, nil
}

// countNameList counts the names of a NUL-separated list of rows names;
// ok is false when it holds another number of names.
func countNameList(list string, rows int) ([]nameGroup, bool) {
	if rows == 0 {
		return []nameGroup{}, list == ""
	}
	counts := map[string]int{}
	n := 0
	for list != "" || n < rows {
		i := strings.IndexByte(list, 0)
		if i < 0 {
			i = len(list)
		}
		counts[list[:i]]++
		n++
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	if n != rows {
		return nil, false
	}
	out := make([]nameGroup, 0, len(counts))
	for name, c := range counts {
		out = append(out, nameGroup{observed: name, n: c})
	}
	slices.SortFunc(out, func(a, b nameGroup) int { return strings.Compare(a.observed, b.observed) })
	return out, true
}

// countNames counts the names of a list of "length,hit,name" items (the
// length in bytes, hit 0 or 1), in order of name and hit.
func countNames(list string) ([]nameGroup, error) {
	type key struct {
		name string
		hit  bool
	}
	counts := map[key]int{}
	for list != "" {
		i := strings.IndexByte(list, ',')
		n, err := strconv.Atoi(list[:max(i, 0)])
		if i <= 0 || err != nil || n < 0 || i+3 > len(list) || list[i+2] != ',' ||
			(list[i+1] != '0' && list[i+1] != '1') || i+3+n > len(list) {
			return nil, fmt.Errorf("bad name list at %.20q", list)
		}
		k := key{list[i+3 : i+3+n], list[i+1] == '1'}
		counts[k]++
		list = list[i+3+n:]
	}
	out := make([]nameGroup, 0, len(counts))
	for k, n := range counts {
		out = append(out, nameGroup{observed: k.name, ipHit: k.hit, n: n})
	}
	slices.SortFunc(out, func(a, b nameGroup) int {
		if c := strings.Compare(a.observed, b.observed); c != 0 {
			return c
		}
		if a.ipHit == b.ipHit {
			return 0
		}
		if b.ipHit {
			return -1
		}
		return 1
	})
	return out, nil
}

// archivedNameGroups counts the matching archived rows per observed name.
func (pl *plan) archivedNameGroups(ctx context.Context, s *snapshot) ([]nameGroup, error) {
	ac, err := pl.archiveCandidates(ctx, s, 0, nil)
	if err != nil {
		return nil, err
	}
	return ac.names, nil
}

// finish fills the fields computed in Go: names and duration.
func (pl *plan) finish(r *Row) {
	pl.finishDevice(r)
	if r.ObservedName == "" {
		r.Hostname = r.DestIP
		return
	}
	ni := pl.infos.get(r.ObservedName)
	r.Hostname, r.HostnameUnicode = ni.display, ni.unicode
}

// finishDevice fills the duration and the device's name: finish without
// the host name, which an aggregate row has already.
func (pl *plan) finishDevice(r *Row) {
	r.Duration = r.End - r.Start
	if name, src, ok := pl.devs.name(r.MAC); ok {
		r.Device, r.DeviceSource = &name, src
	}
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
