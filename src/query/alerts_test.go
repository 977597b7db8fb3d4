package query_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/rules"
	"github.com/pakon/pakon/src/store"
)

const (
	phone  = "02:00:00:00:00:0a"
	tablet = "02:00:00:00:00:0b"
)

var alertBase = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func testAlert(mac string, at time.Duration, sid uint32, sev int, host, dest string) flow.Alert {
	return flow.Alert{
		Time: eve.TimestampOf(alertBase.Add(at)), FlowID: 1000 + uint64(sid%100), MAC: mac,
		SrcIP: netip.MustParseAddr("10.99.1.10"), SrcPort: 40000, DestIP: netip.MustParseAddr(dest), DestPort: 443,
		Proto: "TCP", AppProto: "tls", Hostname: host, NameSource: flow.SourceSNI,
		GID: 1, SID: sid, Rev: 1, Signature: "PAKON stalkerware " + host, Category: "A Network Trojan was detected",
		Severity: sev, Action: "allowed", Engine: rules.IsEngineSID(sid),
	}
}

// alertDB holds a phone that talked to a stalkerware server (alerts on
// its SNI and its IP, and its flows), a tablet with a low-severity alert
// and an engine event.
func alertDB(t *testing.T) *store.DB {
	t.Helper()
	db := MustOpenDB(t)
	ctx := context.Background()
	var alerts []flow.Alert
	for i := range 3 {
		alerts = append(alerts, testAlert(phone, time.Duration(i)*time.Minute, 9100002, 1, "spy.example.test", "203.0.113.66"))
	}
	alerts = append(alerts,
		testAlert(phone, 2*time.Hour, 9100003, 2, "", "203.0.113.66"),
		testAlert(tablet, time.Hour, 9100009, 3, "ads.example.test", "198.51.100.9"),
		testAlert(phone, time.Hour, 2210045, 3, "", "203.0.113.66"),
	)
	start := eve.TimestampOf(alertBase.Add(-time.Second))
	ups := []flow.Update{{Record: flow.Record{
		FlowID: 1002, Start: start, End: start + 30e6, MAC: phone, SrcIP: netip.MustParseAddr("10.99.1.10"), SrcPort: 40000,
		DestIP: netip.MustParseAddr("203.0.113.66"), DestPort: 443, Proto: "TCP", AppProto: "tls",
		Name: "spy.example.test", Source: flow.SourceSNI, BytesSent: 500, BytesReceived: 4000,
	}}, {Record: flow.Record{
		FlowID: 77, Start: start + 60e6, End: start + 90e6, MAC: phone, SrcIP: netip.MustParseAddr("10.99.1.10"), SrcPort: 40001,
		DestIP: netip.MustParseAddr("203.0.113.66"), DestPort: 443, Proto: "TCP", AppProto: "tls",
		Name: "spy.example.test", Source: flow.SourceSNI, BytesSent: 100, BytesReceived: 200,
	}}}
	if err := db.Write(ctx, &store.Batch{Alerts: alerts, Updates: ups}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestAlertsQuery(t *testing.T) {
	db := alertDB(t)
	e := query.New(db, query.Options{})
	ctx := context.Background()
	res, err := e.Alerts(ctx, query.AlertParams{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 3 {
		t.Fatalf("%d threat alerts, want 3 (engine event apart): %+v", res.Total, res.Rows)
	}
	// Most recent first by default.
	if r := res.Rows[0]; r.SID != 9100003 || r.Hostname != "203.0.113.66" || r.SeverityName != "medium" {
		t.Errorf("first row %+v", r)
	}
	if r := res.Rows[2]; r.SID != 9100002 || r.Count != 3 || r.Hostname != "spy.example.test" || r.MAC != phone ||
		r.SeverityName != "high" || r.FirstSeen != float64(alertBase.Unix()) {
		t.Errorf("folded row %+v", r)
	}
	for _, tt := range []struct {
		name string
		p    query.AlertParams
		sids []uint32
	}{
		{"engine apart", query.AlertParams{Engine: true}, []uint32{2210045}},
		{"device", query.AlertParams{Devices: []string{tablet}}, []uint32{9100009}},
		{"domain", query.AlertParams{Hostnames: []string{"example.test"}, Sort: "sid"}, []uint32{9100002, 9100009}},
		{"remote address", query.AlertParams{Hostnames: []string{"203.0.113.66"}, Sort: "sid"}, []uint32{9100002, 9100003}},
		{"severity", query.AlertParams{Severities: []int{1, 2}, Sort: "severity"}, []uint32{9100002, 9100003}},
		{"severity desc", query.AlertParams{Sort: "severity", Desc: true}, []uint32{9100009, 9100003, 9100002}},
		{"sid", query.AlertParams{SIDs: []int{9100009}}, []uint32{9100009}},
		{"time", query.AlertParams{Start: alertBase.Add(90 * time.Minute)}, []uint32{9100003}},
		{"overlap", query.AlertParams{Start: alertBase.Add(time.Minute), End: alertBase.Add(time.Minute)}, []uint32{9100002}},
		{"count", query.AlertParams{Sort: "count", Limit: 1}, []uint32{9100002}},
		{"page", query.AlertParams{Sort: "sid", Offset: 1, Limit: 1}, []uint32{9100003}},
	} {
		res, err := e.Alerts(ctx, tt.p)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []uint32
		for _, r := range res.Rows {
			got = append(got, r.SID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.sids) {
			t.Errorf("%s: sids %v, want %v", tt.name, got, tt.sids)
		}
	}
	for _, bad := range []query.AlertParams{{Sort: "bytes"}, {Severities: []int{0}}, {Limit: -1},
		{Start: alertBase, End: alertBase.Add(-time.Hour)}} {
		if _, err := e.Alerts(ctx, bad); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("%+v: err %v, want invalid", bad, err)
		}
	}
	if _, err := e.Alerts(ctx, query.AlertParams{Devices: []string{"nobody"}}); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("unknown device name: %v", err)
	}
	sum, err := e.AlertSummary(ctx, alertBase.Add(-time.Hour))
	if err != nil || sum.Rows != 3 || sum.Matches != 5 || sum.Engine != 1 || sum.Devices != 2 ||
		sum.BySeverity["high"] != 1 || sum.BySeverity["low"] != 1 {
		t.Errorf("summary %+v %v", sum, err)
	}
}

func TestExplain(t *testing.T) {
	db := alertDB(t)
	e := query.New(db, query.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "suricata.rules"), []byte(
		`alert tls $HOME_NET any -> any any (msg:"PAKON stalkerware TLS SNI spy.example.test"; tls.sni; content:"spy.example.test"; reference:url,stalkerware.example.test/spy; classtype:trojan-activity; sid:9100002; rev:1; metadata:tag stalkerware;)`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "classification.config"), []byte("config classification: trojan-activity,A Network Trojan was detected,1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "reference.config"), []byte("config reference: url http://\n"), 0o644)
	book := rules.NewCatalog(rules.CatalogOptions{RuleFiles: []string{filepath.Join(dir, "suricata.rules")},
		ClassificationFile: filepath.Join(dir, "classification.config"), ReferenceFile: filepath.Join(dir, "reference.config")})
	res, err := e.Alerts(ctx, query.AlertParams{SIDs: []int{9100002, 9100003}, Sort: "sid"})
	if err != nil || len(res.Rows) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	x, err := e.Explain(ctx, res.Rows[0].ID, book)
	if err != nil {
		t.Fatal(err)
	}
	if x.Rule == nil || x.Rule.Msg != "PAKON stalkerware TLS SNI spy.example.test" || x.Rule.Line != 1 || x.Rule.Metadata["tag"][0] != "stalkerware" {
		t.Errorf("rule %+v", x.Rule)
	}
	if x.Class == nil || x.Class.Name != "trojan-activity" || x.Severity != "high" {
		t.Errorf("class %+v severity %q", x.Class, x.Severity)
	}
	if len(x.References) != 1 || x.References[0].URL != "http://stalkerware.example.test/spy" {
		t.Errorf("references %+v", x.References)
	}
	// The matched flow (flow_id 1002) first, then the other flow to the host.
	if len(x.Flows) != 2 || x.Flows[0].SrcPort != 40000 || x.Flows[1].SrcPort != 40001 || x.Flows[0].Hostname != "spy.example.test" {
		t.Errorf("flows %+v", x.Flows)
	}
	if x.Traffic.Device != phone || x.Traffic.Hostname != "spy.example.test" || x.Traffic.Start != float64(alertBase.Add(-5*time.Minute).Unix()) {
		t.Errorf("traffic link %+v", x.Traffic)
	}
	want := `02:00:00:00:00:0a connected to spy.example.test (203.0.113.66); rule 9100002 ("PAKON stalkerware TLS SNI spy.example.test") matched 3 times: A Network Trojan was detected, high severity.`
	if x.Summary != want {
		t.Errorf("summary\n%s\nwant\n%s", x.Summary, want)
	}
	// A rule that is not in the files: explained from the alert alone.
	x, err = e.Explain(ctx, res.Rows[1].ID, book)
	if err != nil || x.Rule != nil || !strings.Contains(x.RuleMissing, "9100003") || x.Class == nil ||
		x.Class.Name != "trojan-activity" || len(x.Flows) != 0 {
		t.Errorf("missing rule: %+v %v", x, err)
	}
	if _, err := e.Explain(ctx, 12345, book); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}
