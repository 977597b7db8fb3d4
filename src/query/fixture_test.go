package query_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// The fixture is real Suricata 7 output (testdata/README.md): a laptop
// (02:00:00:00:00:0a, DHCP host name "laptop") and a second device
// (…:0b) talking TLS, HTTP and UDP to *.example.test and stream.test over
// IPv4 and IPv6. pakon makes seven flows of it.
const (
	laptop = "02:00:00:00:00:0a"
	other  = "02:00:00:00:00:0b"
)

func fixtureDB(t *testing.T) *store.DB {
	t.Helper()
	db := MustOpenDB(t)
	MustIngest(t, db, "testdata/lan-suricata7.json")
	return db
}

func TestFixtureFlows(t *testing.T) {
	db := fixtureDB(t)
	e := query.New(db, query.Options{})
	all := mustFlows(t, e, query.Params{})
	if all.Total != 7 || len(all.Rows) != 7 {
		t.Fatalf("total %d, %d rows; want 7", all.Total, len(all.Rows))
	}
	want := []string{"www.example.test", "api.example.test", "static.example.test", "video.stream.test",
		"www.example.test", "203.0.113.20", "api.example.test"}
	if got := hostnames(all); !slices.Equal(got, want) {
		t.Errorf("hostnames %q, want %q", got, want)
	}
	for i := 1; i < len(all.Rows); i++ {
		if all.Rows[i].Start < all.Rows[i-1].Start {
			t.Errorf("row %d starts before row %d", i, i-1)
		}
	}
	r := all.Rows[0]
	if r.MAC != laptop || r.Device == nil || *r.Device != "laptop" || r.DeviceSource != "dhcp" ||
		r.NameSource != "sni" || r.DestPort != 443 || r.AppProto != "tls" || r.BytesSent == 0 || r.Flows != 1 {
		t.Errorf("first row %+v", r)
	}
	unnamed := all.Rows[5]
	if unnamed.ObservedName != "" || unnamed.Hostname != unnamed.DestIP || unnamed.Device != nil {
		t.Errorf("unnamed flow %+v: want hostname = dest_ip, no device name", unnamed)
	}
	if all.Rows[4].DestIP != "2001:db8:cd::10" {
		t.Errorf("IPv6 address %q not in canonical form", all.Rows[4].DestIP)
	}
}

func TestFixtureDeviceFilter(t *testing.T) {
	db := fixtureDB(t)
	e := query.New(db, query.Options{})
	for _, c := range []struct {
		name    string
		devices []string
		want    int
	}{
		{"mac", []string{laptop}, 5},
		{"mac upper-case dashes", []string{"02-00-00-00-00-0B"}, 2},
		{"dhcp traffic name", []string{"laptop"}, 5},
		{"dhcp name any case", []string{"LAPTOP"}, 5},
		{"two devices", []string{"laptop", other}, 7},
		{"source address", []string{"fd99:1::11"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustFlows(t, e, query.Params{Devices: c.devices})
			if res.Total != c.want || len(res.Rows) != c.want {
				t.Fatalf("total %d rows %d, want %d", res.Total, len(res.Rows), c.want)
			}
		})
	}
	_, err := e.Flows(context.Background(), query.Params{Devices: []string{"nobody"}})
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Param != "device" || !errors.Is(err, query.ErrNotFound) {
		t.Errorf("unknown name: %v, want a not-found error for device", err)
	}
	_, err = e.Flows(context.Background(), query.Params{Devices: []string{"02:00:00:00:00"}})
	if !errors.Is(err, query.ErrInvalid) {
		t.Errorf("short MAC: %v, want invalid", err)
	}
}

func TestFixtureHostnameFilter(t *testing.T) {
	db := fixtureDB(t)
	l := MustLists(t, "stream.test  streaming.test\n", "")
	e := query.New(db, query.Options{Lists: l})
	for _, c := range []struct {
		hosts []string
		want  []string
	}{
		{[]string{"example.test"}, []string{"www.example.test", "api.example.test", "static.example.test", "www.example.test", "api.example.test"}},
		{[]string{"=api.example.test"}, []string{"api.example.test", "api.example.test"}},
		{[]string{"*.example.test"}, []string{"www.example.test", "api.example.test", "static.example.test", "www.example.test", "api.example.test"}},
		{[]string{"=example.test"}, []string{}},
		{[]string{"ample.test"}, []string{}}, // label boundary
		{[]string{"WWW.Example.Test."}, []string{"www.example.test", "www.example.test"}},
		{[]string{"static.example.test", "stream.test"}, []string{"static.example.test", "streaming.test"}},
		{[]string{"streaming.test"}, []string{"streaming.test"}}, // the display name after domains_replace
		{[]string{"203.0.113.20"}, []string{"api.example.test", "203.0.113.20"}},
		{[]string{"2001:db8:cd:0::10"}, []string{"www.example.test"}},
	} {
		res := mustFlows(t, e, query.Params{Hostnames: c.hosts})
		if got := hostnames(res); !slices.Equal(got, c.want) || res.Total != len(c.want) {
			t.Errorf("hostnames %q: got %q (total %d), want %q", c.hosts, got, res.Total, c.want)
		}
	}
	for _, bad := range []string{"", "a b", "exa/mple", "=", "a..b"} {
		_, err := e.Flows(context.Background(), query.Params{Hostnames: []string{bad}})
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Param != "hostname" || qe.Code != query.CodeInvalid {
			t.Errorf("hostname %q: err %v, want invalid hostname", bad, err)
		}
	}
}

func TestFixtureIgnoreAndReplace(t *testing.T) {
	db := fixtureDB(t)
	// "ample.test" must not touch example.test (label boundaries);
	// api.example.test merges into "example.test", which is not ignored,
	// but static.example.test is.
	l := MustLists(t, "ample.test  wrong.test\napi.example.test  example.test\n", "static.example.test\nstream.test\n")
	e := query.New(db, query.Options{Lists: l})
	res := mustFlows(t, e, query.Params{})
	want := []string{"www.example.test", "example.test", "www.example.test", "203.0.113.20", "example.test"}
	if got := hostnames(res); !slices.Equal(got, want) || res.Total != 5 {
		t.Errorf("filtered: %q total %d, want %q", got, res.Total, want)
	}
	if res.Rows[1].ObservedName != "api.example.test" {
		t.Errorf("observed name %q, want the name as seen", res.Rows[1].ObservedName)
	}
	res = mustFlows(t, e, query.Params{NoFilter: true})
	if res.Total != 7 || !slices.Contains(hostnames(res), "static.example.test") {
		t.Errorf("no filter: %q total %d, want all 7", hostnames(res), res.Total)
	}
	// The ignore list applies to the replaced name too.
	e.SetLists(MustLists(t, "static.example.test  ads.test\n", "ads.test\n"))
	res = mustFlows(t, e, query.Params{})
	if res.Total != 6 || slices.Contains(hostnames(res), "ads.test") {
		t.Errorf("ignored after replace: %q total %d", hostnames(res), res.Total)
	}
	agg := mustAggregate(t, e, query.Params{})
	for _, r := range agg.Rows {
		if r.Hostname == "ads.test" {
			t.Errorf("aggregate shows ignored %+v", r)
		}
	}
}

func TestFixtureAggregateSumsTimeline(t *testing.T) {
	db := fixtureDB(t)
	e := query.New(db, query.Options{Lists: MustLists(t, "example.test  example.test\n", "")})
	for _, p := range []query.Params{{}, {Devices: []string{laptop}}, {Hostnames: []string{"example.test"}}, {Protos: []string{"tcp"}}} {
		flows := mustFlows(t, e, p)
		agg := mustAggregate(t, e, p)
		sum := func(rows []query.Row) (sent, recv int64, n int) {
			for _, r := range rows {
				sent, recv, n = sent+r.BytesSent, recv+r.BytesReceived, n+r.Flows
			}
			return
		}
		fs, fr, fn := sum(flows.Rows)
		as, ar, an := sum(agg.Rows)
		if fs != as || fr != ar || fn != an || fn != flows.Total {
			t.Errorf("%+v: timeline %d/%d/%d flows, aggregate %d/%d/%d", p, fs, fr, fn, as, ar, an)
		}
		if agg.Total != len(agg.Rows) || agg.Total >= flows.Total && flows.Total > 2 {
			t.Errorf("%+v: %d groups of %d flows", p, agg.Total, flows.Total)
		}
	}
	agg := mustAggregate(t, e, query.Params{Sort: query.SortBytes, Desc: true})
	// www.example.test over IPv4 and IPv6 is one group (same device, name,
	// port and protocol) whose addresses differ.
	found := false
	for _, r := range agg.Rows {
		if r.MAC == laptop && r.Hostname == "example.test" && r.DestPort == 443 {
			found = true
			if r.Flows != 3 || r.DestIP != "" || r.SrcIP != "" {
				t.Errorf("merged group %+v: want 3 flows, mixed addresses blank", r)
			}
		}
		if r.MAC == other && r.Hostname == "example.test" && r.DestPort == 443 {
			t.Errorf("devices merged: %+v", r)
		}
	}
	if !found {
		t.Errorf("no laptop example.test:443 group in %+v", agg.Rows)
	}
	for i := 1; i < len(agg.Rows); i++ {
		if agg.Rows[i].BytesSent+agg.Rows[i].BytesReceived > agg.Rows[i-1].BytesSent+agg.Rows[i-1].BytesReceived {
			t.Errorf("not sorted by bytes descending at %d", i)
		}
	}
}

func TestFixtureOverlapAndPaging(t *testing.T) {
	db := fixtureDB(t)
	e := query.New(db, query.Options{})
	all := mustFlows(t, e, query.Params{})
	third := all.Rows[2]
	// A range inside the third flow's lifetime finds it even though it
	// started before the range.
	mid := time.UnixMicro(int64((third.Start + third.End) / 2 * 1e6))
	res := mustFlows(t, e, query.Params{Start: mid, End: mid})
	if res.Total != 1 || res.Rows[0].SrcPort != third.SrcPort {
		t.Errorf("point inside flow: %+v", res)
	}
	for _, limit := range []int{1, 2, 3, 7, 10} {
		var got []int
		for off := 0; off < all.Total; off += limit {
			page := mustFlows(t, e, query.Params{Limit: limit, Offset: off})
			if page.Total != 7 {
				t.Fatalf("limit %d offset %d: total %d", limit, off, page.Total)
			}
			for _, r := range page.Rows {
				got = append(got, r.SrcPort)
			}
		}
		var want []int
		for _, r := range all.Rows {
			want = append(want, r.SrcPort)
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: pages %v, want %v", limit, got, want)
		}
	}
	res = mustFlows(t, e, query.Params{Offset: 100})
	if res.Total != 7 || len(res.Rows) != 0 {
		t.Errorf("offset past the end: %+v", res)
	}
}
