package store

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pakon/pakon/src/flow"
)

// Rule is one aggregation level, PaKon's archive_rule: flows that ended
// more than UpTo ago are merged with flows of the same device, host name
// (or, unnamed, destination address), destination port and protocol that
// start less than Window after the previous one ended; merged rows under
// SizeThreshold bytes (both directions) are then dropped and counted in the
// dropped table. Rules apply in order, each to the output of the one before.
type Rule struct {
	UpTo          time.Duration
	Window        time.Duration
	SizeThreshold int64 // 0 keeps every row
}

// SaneEpoch is 2000-01-01 UTC. Routers without a real-time clock boot in
// 1970 and jump forward when NTP syncs; times before SaneEpoch come from an
// unset clock. Such rows are never merged with others and never expire by
// age (their age is unknown): only the size caps and pakon clear remove them.
const SaneEpoch = 946_684_800

const saneMS = SaneEpoch * 1000

// rulesKey renders rules for the meta table: a change re-cascades.
func rulesKey(rules []Rule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%d/%d/%d;", int64(r.UpTo/time.Second), int64(r.Window/time.Millisecond), r.SizeThreshold)
	}
	return b.String()
}

// tally is what a size threshold dropped for one device.
type tally struct{ flows, sent, rcv int64 }

// groupKey is what merged flows share.
type groupKey struct {
	mac, who, proto string
	port            int64
}

// applyRule merges rows by r and drops small results, adding what it
// dropped to dropped (by MAC). It returns the rows kept; byte and flow
// totals of kept + dropped always equal those of the input.
func applyRule(rows []archRow, r Rule, dropped map[string]*tally) []archRow {
	window := int64(r.Window / time.Millisecond)
	groups := make(map[groupKey][]int)
	for i := range rows {
		x := &rows[i]
		who := x.Name
		if who == "" {
			who = "@" + x.DestIP
		}
		k := groupKey{x.MAC, who, x.Proto, x.DestPort}
		groups[k] = append(groups[k], i)
	}
	out := make([]archRow, 0, len(rows)/2+1)
	for _, idx := range groups {
		sort.Slice(idx, func(a, b int) bool { return rows[idx[a]].Start < rows[idx[b]].Start })
		var cur *archRow
		for _, i := range idx {
			x := rows[i]
			// Unset-clock rows stay alone: their gaps to real times are
			// meaningless and merging would stretch a row across the jump.
			if cur != nil && x.Start >= saneMS && cur.Start >= saneMS && x.Start-cur.End < window {
				mergeInto(cur, &x)
				continue
			}
			out = append(out, x)
			cur = &out[len(out)-1]
		}
	}
	if r.SizeThreshold <= 0 {
		return out
	}
	kept := out[:0]
	for _, x := range out {
		if x.BytesSent+x.BytesRcv >= r.SizeThreshold {
			kept = append(kept, x)
			continue
		}
		t := dropped[x.MAC]
		if t == nil {
			t = &tally{}
			dropped[x.MAC] = t
		}
		t.flows += x.Flows
		t.sent += x.BytesSent
		t.rcv += x.BytesRcv
	}
	return kept
}

// mergeInto adds x to the merged row m. A merged row keeps the first flow's
// addresses, no source port, the best name source and the union of time.
func mergeInto(m, x *archRow) {
	m.Key = 0
	m.End = max(m.End, x.End)
	m.Start = min(m.Start, x.Start)
	if m.SrcPort != x.SrcPort {
		m.SrcPort = 0
	}
	if m.AppProto == "" {
		m.AppProto = x.AppProto
	}
	if flow.ParseSource(x.Source) != flow.SourceNone &&
		(flow.ParseSource(m.Source) == flow.SourceNone || flow.ParseSource(x.Source) < flow.ParseSource(m.Source)) {
		m.Source = x.Source
	}
	m.BytesSent += x.BytesSent
	m.BytesRcv += x.BytesRcv
	m.PktsSent += x.PktsSent
	m.PktsRcv += x.PktsRcv
	m.Flows += x.Flows
}

// dueRules returns how many of rules apply to day at now: rule i applies
// once the day's last possible flow end is UpTo old. Days of an unset
// clock get none.
func dueRules(rules []Rule, day int64, now time.Time) int {
	if day*msPerDay < saneMS {
		return 0
	}
	age := now.UnixMilli() - (day+1)*msPerDay
	n := 0
	for _, r := range rules {
		if age >= r.UpTo.Milliseconds() {
			n++
		}
	}
	return n
}
