package query

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pakon/pakon/src/store"
)

// Histogram limits.
const (
	MaxBuckets             = 10000
	DefaultBuckets         = 60
	DefaultHistogramSeries = 10
)

// HistogramParams select bytes over time. Params.Start is required; a
// zero Params.End means now. Sort, Limit and Offset are not used.
type HistogramParams struct {
	Params
	// Bucket ("bucket") is the width of one bar, at least a second; zero
	// divides the range into DefaultBuckets.
	Bucket time.Duration
	// By ("by") splits the bars into one series per device (ByDevice)
	// or per display hostname (ByHostname); "" gives one series.
	By string
	// Series ("series") keeps that many series, those with the most
	// bytes, and sums the rest into one marked Other; 0 means
	// DefaultHistogramSeries.
	Series int
}

// Histogram is bytes per time bucket. Bucket i covers
// [Start + i*Bucket, Start + (i+1)*Bucket), the last one ending at End.
type Histogram struct {
	Start  float64  `json:"start"`
	End    float64  `json:"end"`
	Bucket float64  `json:"bucket"`
	Series []Series `json:"series"`
}

// Series is one device's or hostname's bytes per bucket.
type Series struct {
	// Key is the display hostname, the device's MAC (its address when
	// the MAC is unknown), or "" for the only series and for Other.
	Key             string  `json:"key"`
	HostnameUnicode string  `json:"hostname_unicode,omitempty"`
	Device          *string `json:"device,omitempty"`
	DeviceSource    string  `json:"device_source,omitempty"`
	// Other marks the series summing those left out.
	Other    bool    `json:"other,omitempty"`
	Sent     []int64 `json:"sent"`
	Received []int64 `json:"received"`
	mac      string
	total    int64
}

func (p *HistogramParams) validate(now time.Time) (from, to, bucket float64, n int, err error) {
	switch p.By {
	case "", ByHostname, ByDevice:
	default:
		return 0, 0, 0, 0, invalidf("by", "unknown split %q (want hostname, device or nothing)", p.By)
	}
	if p.Series < 0 || p.Series > 1000 {
		return 0, 0, 0, 0, invalidf("series", "%d series out of range 0-1000", p.Series)
	}
	if p.Start.IsZero() {
		return 0, 0, 0, 0, invalidf("start", "a histogram needs a start time")
	}
	if p.End.IsZero() {
		p.End = now
	}
	if !p.End.After(p.Start) {
		return 0, 0, 0, 0, invalidf("end", "end is not after start")
	}
	from, to = seconds(p.Start), seconds(p.End)
	switch {
	case p.Bucket == 0:
		bucket = math.Max(1, math.Ceil((to-from)/DefaultBuckets))
	case p.Bucket < time.Second:
		return 0, 0, 0, 0, invalidf("bucket", "bucket %s shorter than a second", p.Bucket)
	default:
		bucket = p.Bucket.Seconds()
	}
	n = int(math.Ceil((to - from) / bucket))
	if n > MaxBuckets {
		return 0, 0, 0, 0, invalidf("bucket", "%d buckets, more than %d: choose a wider bucket", n, MaxBuckets)
	}
	return from, to, bucket, max(n, 1), nil
}

// Histogram sums the bytes of the flows matching p.Params per time bucket.
// A flow's bytes are spread evenly over its duration and only the part
// inside [Start, End] counts. Flows that start and end within one bucket,
// nearly all of them, are summed in SQL; the few that cross a bucket
// boundary or the range's edges are spread in Go.
func (e *Engine) Histogram(ctx context.Context, p HistogramParams) (*Histogram, error) {
	from, to, bucket, n, err := p.validate(e.now()) // sets p.End when open
	if err != nil {
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
	var ns *nameSet
	if pl.filtersNames() {
		if ns, err = pl.nameSets(ctx, s, false, []nameGroup{}); err != nil {
			return nil, err
		}
	}
	keyCols := "'', ''"
	switch p.By {
	case ByDevice:
		keyCols = "f.mac, CASE WHEN f.mac = '' THEN f.src_ip ELSE '' END"
	case ByHostname:
		keyCols = "f.observed_name, CASE WHEN f.observed_name = '' THEN f.dest_ip ELSE '' END"
	}
	where := func(extra string, extraArgs ...any) (string, []any) {
		var conds []string
		args := slices.Clone(pl.args)
		if ns != nil && ns.cond != "" {
			conds = append(conds, ns.cond)
			args = append(args, ns.args...)
		}
		conds = append(conds, extra)
		return pl.where(conds...), append(args, extraArgs...)
	}
	series := map[[2]string]*Series{}
	get := func(a, b string) *Series {
		k := [2]string{a, b}
		if p.By == ByHostname {
			k = [2]string{pl.hostKey(a, b), ""}
		}
		s := series[k]
		if s == nil {
			s = &Series{Sent: make([]int64, n), Received: make([]int64, n)}
			switch p.By {
			case ByDevice:
				s.Key, s.mac = a, a
				if a == "" {
					s.Key = b
				}
			case ByHostname:
				s.Key = k[0]
			}
			series[k] = s
		}
		return s
	}

	// Flows within one bucket and within the range.
	const bucketOf = "CAST((f.%s - ?) / ? AS INTEGER)"
	inOne := "f.start >= ? AND f.end <= ? AND " + fmt.Sprintf(bucketOf, "start") + " = " + fmt.Sprintf(bucketOf, "end")
	w, args := where(inOne, from, to, from, bucket, from, bucket)
	q := "SELECT " + keyCols + ", " + fmt.Sprintf(bucketOf, "start") + ", sum(f.bytes_sent), sum(f.bytes_received)" +
		s.liveFrom(ctx, pl, liveRows) + w + " GROUP BY 1, 2, 3"
	rows, err := s.conn.QueryContext(ctx, q, append([]any{from, bucket}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	for rows.Next() {
		var a, b string
		var i int
		var sent, recv int64
		if err := rows.Scan(&a, &b, &i, &sent, &recv); err != nil {
			rows.Close()
			return nil, fmt.Errorf("histogram: %w", err)
		}
		if i < 0 || i >= n {
			continue
		}
		s := get(a, b)
		s.Sent[i] += sent
		s.Received[i] += recv
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}

	// The others, spread in Go.
	w, args = where("NOT ("+inOne+")", from, to, from, bucket, from, bucket)
	q = "SELECT " + keyCols + ", f.start, f.end, f.bytes_sent, f.bytes_received" + s.liveFrom(ctx, pl, liveRows) + w
	rows, err = s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		var start, end float64
		var sent, recv int64
		if err := rows.Scan(&a, &b, &start, &end, &sent, &recv); err != nil {
			return nil, fmt.Errorf("histogram: %w", err)
		}
		s := get(a, b)
		spread(s.Sent, sent, start, end, from, to, bucket)
		spread(s.Received, recv, start, end, from, to, bucket)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}

	// Archived rows, decoded: the same two cases in Go.
	y := s.sym
	pc := newPassCache(pl, y)
	need := colSet(store.ColName, store.ColDestIP, store.ColBytesSent, store.ColBytesRcv)
	if p.By == ByDevice {
		need |= colSet(store.ColMAC, store.ColSrcIP)
	}
	bucketIdx := func(t float64) int64 { return int64((t - from) / bucket) } // CAST(… AS INTEGER) truncates
	err = s.eachDay(ctx, need, false, func(b *batch) error {
		c := &b.col
		for _, j := range b.sel {
			name, dest := c[store.ColName][j], c[store.ColDestIP][j]
			if pl.filtersNames() && !pc.passes(name, pc.hit(dest)) {
				continue
			}
			var ka, kb string
			switch p.By {
			case ByDevice:
				ka = y.str(c[store.ColMAC][j])
				if ka == "" {
					kb = y.str(c[store.ColSrcIP][j])
				}
			case ByHostname:
				ka = y.str(name)
				if ka == "" {
					kb = y.str(dest)
				}
			}
			start, end := b.start[j], b.end[j]
			sent, recv := c[store.ColBytesSent][j], c[store.ColBytesRcv][j]
			if start >= from && end <= to && bucketIdx(start) == bucketIdx(end) {
				i := bucketIdx(start)
				if i < 0 || i >= int64(n) {
					continue
				}
				s := get(ka, kb)
				s.Sent[i] += sent
				s.Received[i] += recv
				continue
			}
			s := get(ka, kb)
			spread(s.Sent, sent, start, end, from, to, bucket)
			spread(s.Received, recv, start, end, from, to, bucket)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	h := &Histogram{Start: from, End: to, Bucket: bucket, Series: []Series{}}
	all := make([]*Series, 0, len(series))
	for _, s := range series {
		for i := range s.Sent {
			s.total += s.Sent[i] + s.Received[i]
		}
		if s.total == 0 && p.By != "" {
			continue
		}
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *Series) int {
		return cmp.Or(cmp.Compare(b.total, a.total), strings.Compare(a.Key, b.Key))
	})
	keep := p.Series
	if keep == 0 {
		keep = DefaultHistogramSeries
	}
	var other *Series
	for i, s := range all {
		if i < keep {
			switch p.By {
			case ByDevice:
				if name, src, ok := pl.devs.name(s.mac); ok {
					s.Device, s.DeviceSource = &name, src
				}
			case ByHostname:
				s.HostnameUnicode = unicodeOf(s.Key)
			}
			h.Series = append(h.Series, *s)
			continue
		}
		if other == nil {
			other = &Series{Other: true, Sent: make([]int64, n), Received: make([]int64, n)}
		}
		for j := range s.Sent {
			other.Sent[j] += s.Sent[j]
			other.Received[j] += s.Received[j]
		}
	}
	if other != nil {
		h.Series = append(h.Series, *other)
	}
	return h, nil
}

// spread adds the part of bytes that falls into each bucket, assuming a
// constant rate over [start, end] and dropping what lies outside
// [from, to]. Rounding is cumulative, so the parts add up.
func spread(buckets []int64, bytes int64, start, end, from, to, bucket float64) {
	if bytes == 0 {
		return
	}
	if end <= start {
		if start >= from && start <= to {
			i := min(int((start-from)/bucket), len(buckets)-1)
			buckets[i] += bytes
		}
		return
	}
	dur := end - start
	lo, hi := math.Max(start, from), math.Min(end, to)
	if hi < lo {
		return
	}
	i := int((lo - from) / bucket)
	prev := int64(math.Round(float64(bytes) * (lo - start) / dur))
	for ; i < len(buckets); i++ {
		bEnd := math.Min(from+float64(i+1)*bucket, hi)
		cum := int64(math.Round(float64(bytes) * (bEnd - start) / dur))
		buckets[i] += cum - prev
		prev = cum
		if bEnd >= hi {
			break
		}
	}
}
