package query_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

const (
	macA = "02:00:00:00:00:a1"
	macB = "02:00:00:00:00:b2"
)

// timelineDB holds crafted flows (seconds after base):
//
//	1 long   [-1000, 500]  macA  long.test      started before any range here
//	2 a      [0, 100]      macA  a.test
//	3 b      [50, 60]      macB  b.test
//	4 c      [200, 300]    macB  c.test
//	5 act    [400, 450]    macA  act.test       still active
func timelineDB(t *testing.T) *store.DB {
	db := MustOpenDB(t)
	act := rec(5, macA, 400, 450, "act.test", 5, 50)
	act.Active = true
	MustWrite(t, db,
		rec(1, macA, -1000, 500, "long.test", 1, 10),
		rec(2, macA, 0, 100, "a.test", 2, 20),
		rec(3, macB, 50, 60, "b.test", 3, 30),
		rec(4, macB, 200, 300, "c.test", 4, 40),
		act)
	return db
}

func TestOverlap(t *testing.T) {
	e := query.New(timelineDB(t), query.Options{})
	zero := time.Time{}
	for _, c := range []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"all", zero, zero, []string{"long.test", "a.test", "b.test", "c.test", "act.test"}},
		{"inside the long flow only", at(150), at(199), []string{"long.test"}},
		{"touching a's end", at(100), at(150), []string{"long.test", "a.test"}},
		{"touching c's start", at(150), at(200), []string{"long.test", "c.test"}},
		{"one instant", at(55), at(55), []string{"long.test", "a.test", "b.test"}},
		{"open end", at(450), zero, []string{"long.test", "act.test"}},
		{"after everything", at(501), zero, []string{}},
		{"open start", zero, at(-1000), []string{"long.test"}},
		{"before everything", zero, at(-1001), []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustFlows(t, e, query.Params{Start: c.start, End: c.end})
			if got := hostnames(res); !slices.Equal(got, c.want) || res.Total != len(c.want) {
				t.Errorf("got %q (total %d), want %q", got, res.Total, c.want)
			}
		})
	}
	res := mustFlows(t, e, query.Params{Active: true})
	if got := hostnames(res); !slices.Equal(got, []string{"act.test"}) || !res.Rows[0].Active {
		t.Errorf("active only: %+v", res.Rows)
	}
	agg := mustAggregate(t, e, query.Params{Start: at(150), End: at(199)})
	if agg.Total != 1 || agg.Rows[0].BytesReceived != 10 || agg.Rows[0].Start != float64(at(-1000).Unix()) {
		t.Errorf("aggregate of the long flow: %+v", agg.Rows)
	}
}

func TestSortKeys(t *testing.T) {
	db := timelineDB(t)
	e := query.New(db, query.Options{Lists: MustLists(t, "a.test  zz.test\n", "")})
	for _, key := range query.SortKeys() {
		for _, desc := range []bool{false, true} {
			p := query.Params{Sort: key, Desc: desc}
			if res := mustFlows(t, e, p); res.Total != 5 || len(res.Rows) != 5 {
				t.Errorf("flows by %s desc=%v: %d rows", key, desc, len(res.Rows))
			}
			if res := mustAggregate(t, e, p); res.Total != 5 {
				t.Errorf("aggregate by %s desc=%v: %d rows", key, desc, res.Total)
			}
		}
	}
	want := map[string][]string{
		query.SortBytes:    {"act.test", "c.test", "b.test", "zz.test", "long.test"},
		query.SortHostname: {"zz.test", "long.test", "c.test", "b.test", "act.test"}, // the display name, descending
		query.SortEnd:      {"long.test", "act.test", "c.test", "zz.test", "b.test"},
		query.SortDuration: {"long.test", "c.test", "zz.test", "act.test", "b.test"},
	}
	for key, w := range want {
		for _, get := range []func(context.Context, query.Params) (*query.Result, error){e.Flows, e.Aggregate} {
			res, err := get(context.Background(), query.Params{Sort: key, Desc: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := hostnames(res); !slices.Equal(got, w) {
				t.Errorf("by -%s: %q, want %q", key, got, w)
			}
		}
	}
	// Paging by bytes descending yields the same order page by page.
	var got []string
	for off := 0; off < 5; off += 2 {
		got = append(got, hostnames(mustFlows(t, e, query.Params{Sort: query.SortHostname, Limit: 2, Offset: off}))...)
	}
	if !slices.Equal(got, []string{"act.test", "b.test", "c.test", "long.test", "zz.test"}) {
		t.Errorf("pages by hostname: %q", got)
	}
}

func TestMergedRowsAndUnknownDevices(t *testing.T) {
	db := MustOpenDB(t)
	one, two := rec(1, "", 0, 10, "x.test", 1, 1), rec(2, "", 0, 10, "x.test", 1, 1)
	two.SrcIP = netip.MustParseAddr("192.168.1.77")
	MustWrite(t, db, one, two, rec(3, macA, 0, 10, "x.test", 100, 1000))
	// A row as the archive writes it: five flows merged into one.
	if _, err := db.SQL().Exec(`INSERT INTO flows (flow_key, start, end, mac, src_ip, src_port, dest_ip, dest_port,
		proto, app_proto, observed_name, name_source, bytes_sent, bytes_received, flows)
		VALUES (NULL, ?, ?, ?, '192.168.1.10', 0, '198.51.100.3', 443, 'TCP', 'tls', 'x.test', 'sni', 500, 5000, 5)`,
		float64(at(20).Unix()), float64(at(30).Unix()), macA); err != nil {
		t.Fatal(err)
	}
	e := query.New(db, query.Options{})
	agg := mustAggregate(t, e, query.Params{Sort: query.SortFlows, Desc: true})
	if agg.Total != 3 {
		t.Fatalf("want the known device and two unknown ones apart, got %+v", agg.Rows)
	}
	a := agg.Rows[0]
	if a.MAC != macA || a.Flows != 6 || a.BytesSent != 600 || a.BytesReceived != 6000 ||
		a.Start != float64(at(0).Unix()) || a.End != float64(at(30).Unix()) {
		t.Errorf("merged group %+v: want 6 flows, 600/6000 bytes, 0–30 s", a)
	}
	for _, r := range agg.Rows[1:] {
		if r.MAC != "" || r.Flows != 1 || r.SrcIP == "" {
			t.Errorf("unknown device row %+v", r)
		}
	}
	devs, err := e.Devices(context.Background(), query.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if devs.Total != 3 {
		t.Errorf("devices %+v, want 3", devs.Rows)
	}
	flows := mustFlows(t, e, query.Params{Devices: []string{"192.168.1.77"}})
	if flows.Total != 1 || flows.Rows[0].MAC != "" {
		t.Errorf("device by address: %+v", flows.Rows)
	}
}

func TestSpecialNames(t *testing.T) {
	db := MustOpenDB(t)
	http := rec(2, macA, 0, 1, "198.51.100.9", 1, 1)
	http.Source, http.AppProto, http.DestPort = flow.SourceHTTP, "http", 80
	MustWrite(t, db, rec(1, macA, 0, 1, "xn--bcher-kva.example", 1, 1), http, rec(3, macA, 0, 1, "", 1, 1))
	// Ignoring "example" domains must not hide addresses or unnamed flows.
	e := query.New(db, query.Options{Lists: MustLists(t, "", "xn--bcher-kva.example\n")})
	res := mustFlows(t, e, query.Params{})
	if res.Total != 2 {
		t.Errorf("filtered: %q, want the address and the unnamed flow", hostnames(res))
	}
	e.SetLists(nil)
	res = mustFlows(t, e, query.Params{})
	if res.Rows[0].Hostname != "xn--bcher-kva.example" || res.Rows[0].HostnameUnicode != "bücher.example" {
		t.Errorf("punycode row %+v", res.Rows[0])
	}
	if res.Rows[1].Hostname != "198.51.100.9" || res.Rows[1].HostnameUnicode != "" {
		t.Errorf("address row %+v", res.Rows[1])
	}
	if res.Rows[2].Hostname != res.Rows[2].DestIP || res.Rows[2].ObservedName != "" {
		t.Errorf("unnamed row %+v", res.Rows[2])
	}
	for _, h := range []string{"bücher.example", "BÜCHER.example", "xn--bcher-kva.example", "example"} {
		if res := mustFlows(t, e, query.Params{Hostnames: []string{h}}); res.Total != 1 || res.Rows[0].ObservedName != "xn--bcher-kva.example" {
			t.Errorf("-H %s: %q", h, hostnames(res))
		}
	}
	if res := mustFlows(t, e, query.Params{Hostnames: []string{"198.51.100.9"}}); res.Total != 1 {
		t.Errorf("-H address: %q", hostnames(res))
	}
}

func TestInjectionStringsStayValues(t *testing.T) {
	db := timelineDB(t)
	evil := "x'); drop table flows; --"
	MustWrite(t, db, rec(9, macB, 0, 1, evil, 1, 1))
	e := query.New(db, query.Options{})
	for _, p := range []query.Params{
		{Devices: []string{evil}},
		{Devices: []string{"' OR 1=1 --"}},
		{Hostnames: []string{evil}},
		{Hostnames: []string{"a' OR '1'='1"}},
		{AppProtos: []string{"tls' OR '1'='1"}},
		{Protos: []string{"tcp) OR (1=1"}},
		{Sort: "start; DROP TABLE flows"},
	} {
		res, err := e.Flows(context.Background(), p)
		var qe *query.Error
		switch {
		case err == nil && res.Total != 0:
			t.Errorf("%+v matched %d rows", p, res.Total)
		case err != nil && !errors.As(err, &qe):
			t.Errorf("%+v: %v, want a parameter error", p, err)
		}
	}
	res := mustFlows(t, e, query.Params{})
	if res.Total != 6 || !slices.Contains(hostnames(res), evil) {
		t.Errorf("after injection attempts: %q", hostnames(res))
	}
}

func TestParamErrors(t *testing.T) {
	e := query.New(timelineDB(t), query.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		p     query.Params
		param string
	}{
		{query.Params{Start: at(10), End: at(5)}, "end"},
		{query.Params{Limit: -1}, "limit"},
		{query.Params{Offset: -1}, "offset"},
		{query.Params{Sort: "size"}, "sort"},
		{query.Params{DestPorts: []int{70000}}, "dest_port"},
		{query.Params{Protos: []string{""}}, "proto"},
		{query.Params{AppProtos: []string{"t l s"}}, "app_proto"},
		{query.Params{Devices: []string{""}}, "device"},
		{query.Params{Devices: []string{"aa:bb:cc:dd:ee:gg"}}, "device"},
		{query.Params{Hostnames: []string{" "}}, "hostname"},
	} {
		_, err := e.Flows(ctx, c.p)
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Param != c.param || !errors.Is(err, query.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid %s", c.p, err, c.param)
		}
	}
	for _, c := range []struct {
		p     query.TopParams
		param string
	}{{query.TopParams{By: "port"}, "by"}, {query.TopParams{Metric: "size"}, "metric"}, {query.TopParams{N: -1}, "n"}} {
		_, err := e.Top(ctx, c.p)
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Param != c.param {
			t.Errorf("top %+v: %v, want invalid %s", c.p, err, c.param)
		}
	}
	for _, c := range []struct {
		p     query.HistogramParams
		param string
	}{
		{query.HistogramParams{}, "start"},
		{query.HistogramParams{Params: query.Params{Start: at(0), End: at(100)}, Bucket: time.Millisecond}, "bucket"},
		{query.HistogramParams{Params: query.Params{Start: at(0), End: at(100000)}, Bucket: time.Second}, "bucket"},
		{query.HistogramParams{Params: query.Params{Start: at(0)}, By: "port"}, "by"},
	} {
		_, err := e.Histogram(ctx, c.p)
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Param != c.param {
			t.Errorf("histogram %+v: %v, want invalid %s", c.p, err, c.param)
		}
	}
}

func TestTop(t *testing.T) {
	db := MustOpenDB(t)
	// Two parallel connections to video.test (0–100 s and 50–150 s), one
	// to cdn.video.test later, one big download to dl.test.
	MustWrite(t, db,
		rec(1, macA, 0, 100, "video.test", 10, 100),
		rec(2, macA, 50, 150, "video.test", 10, 100),
		rec(3, macB, 300, 310, "cdn.video.test", 10, 100),
		rec(4, macB, 0, 5, "dl.test", 10, 10000),
		rec(5, macB, 0, 5, "ads.test", 10, 1e6))
	e := query.New(db, query.Options{Lists: MustLists(t, "cdn.video.test  video.test\n", "ads.test\n")})
	ctx := context.Background()
	res, err := e.Top(ctx, query.TopParams{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || len(res.Rows) != 1 || res.Rows[0].Key != "dl.test" || res.Other == nil ||
		res.Other.BytesReceived != 300 || res.Other.Flows != 3 {
		t.Errorf("top 1 by bytes: %+v other %+v", res.Rows, res.Other)
	}
	res, err = e.Top(ctx, query.TopParams{Metric: query.MetricTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].Key != "video.test" || res.Rows[0].Time != 160 || res.Rows[1].Time != 5 {
		t.Errorf("top by time (union of intervals): %+v", res.Rows)
	}
	// Clipped to the range: 40 s of the first connection and 50 of the
	// second overlap [60, 110].
	res, err = e.Top(ctx, query.TopParams{Params: query.Params{Start: at(60), End: at(110)}, Metric: query.MetricTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0].Time != 50 {
		t.Errorf("top by time within [60, 110]: %+v", res.Rows)
	}
	res, err = e.Top(ctx, query.TopParams{By: query.ByDevice, Metric: query.MetricTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].Key != macA || res.Rows[0].Time != 150 || res.Rows[1].Time != 15 {
		t.Errorf("top devices by time: %+v", res.Rows)
	}
	res, err = e.Top(ctx, query.TopParams{By: query.ByDevice, Params: query.Params{NoFilter: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0].Key != macB || res.Rows[0].BytesReceived != 1e6+10100 {
		t.Errorf("top devices by bytes, unfiltered: %+v", res.Rows)
	}
}

func TestHistogram(t *testing.T) {
	db := MustOpenDB(t)
	MustWrite(t, db,
		rec(1, macA, 0, 100, "spread.test", 100, 1000), // crosses buckets
		rec(2, macA, 10, 20, "inside.test", 1, 7),      // within bucket 0
		rec(3, macB, 160, 160, "instant.test", 1, 9),   // zero duration
		rec(4, macB, 150, 400, "late.test", 0, 250),    // runs past the range
		rec(5, macB, 30, 31, "ads.test", 0, 5000))      // ignored
	e := query.New(db, query.Options{Lists: MustLists(t, "", "ads.test\n")})
	ctx := context.Background()
	h, err := e.Histogram(ctx, query.HistogramParams{Params: query.Params{Start: at(0), End: at(200)}, Bucket: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Series) != 1 {
		t.Fatalf("series %+v", h.Series)
	}
	// spread: 500+500 in buckets 0, 1; inside: 7 in 0; instant: 9 in 3;
	// late: 250 bytes over 250 s, of which 150–200 s lie inside: 50 in 3.
	want := []int64{507, 500, 0, 59}
	if !slices.Equal(h.Series[0].Received, want) {
		t.Errorf("received %v, want %v", h.Series[0].Received, want)
	}
	h, err = e.Histogram(ctx, query.HistogramParams{Params: query.Params{Start: at(0), End: at(200)}, Bucket: 50 * time.Second,
		By: query.ByHostname, Series: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Series) != 2 || h.Series[0].Key != "spread.test" || !h.Series[1].Other ||
		!slices.Equal(h.Series[1].Received, []int64{7, 0, 0, 59}) {
		t.Errorf("by hostname, 1 series + other: %+v", h.Series)
	}
	h, err = e.Histogram(ctx, query.HistogramParams{Params: query.Params{Start: at(0), End: at(200)}, Bucket: 100 * time.Second,
		By: query.ByDevice})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Series) != 2 || h.Series[0].Key != macA || !slices.Equal(h.Series[0].Received, []int64{1007, 0}) ||
		!slices.Equal(h.Series[1].Received, []int64{0, 59}) {
		t.Errorf("by device: %+v", h.Series)
	}
}
