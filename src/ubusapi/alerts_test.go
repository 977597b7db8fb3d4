package ubusapi_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/rules"
	"github.com/pakon/pakon/src/store"
	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
	"github.com/pakon/pakon/src/ubusapi"
)

type alertBackend struct{ book *rules.Catalog }

func (b alertBackend) RuleBook() query.RuleBook { return b.book }
func (b alertBackend) AlertRules(ctx context.Context) (any, error) {
	return map[string]any{"files": b.book.Files()}, nil
}

func alertSetup(t *testing.T, withRules bool) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "pakon.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var alerts []flow.Alert
	for i, sid := range []uint32{9100001, 9100001, 9100002, 2210045} {
		alerts = append(alerts, flow.Alert{Time: eve.TimestampOf(now.Add(-time.Duration(10-i) * time.Minute)), MAC: "02:00:00:00:00:0a",
			SrcIP: netip.MustParseAddr("10.99.1.10"), DestIP: netip.MustParseAddr("203.0.113.66"), DestPort: 443, Proto: "TCP",
			Hostname: "spy.example.test", GID: 1, SID: sid, Signature: "sig", Severity: 1 + int(sid%2), Engine: rules.IsEngineSID(sid)})
	}
	if err := db.Write(ctx, &store.Batch{Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	svc := &ubusapi.Service{Engine: query.New(db, query.Options{}), Backend: &backend{names: map[string]string{}},
		Now: func() time.Time { return now }}
	if withRules {
		svc.Alerts = alertBackend{rules.NewCatalog(rules.CatalogOptions{RuleFiles: []string{"../rules/testdata/local.rules"}})}
	}
	broker := ubustest.Start(t)
	client := ubus.New(ubus.Options{Path: broker.Path()})
	if err := client.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	if err := client.AddObject(ctx, svc.Object()); err != nil {
		t.Fatal(err)
	}
	return broker.Path()
}

func TestAlertsMethod(t *testing.T) {
	sock := alertSetup(t, true)
	var res query.AlertResult
	if err := call(t, sock, "alerts", `{"ubus_rpc_session":"x","sort":"sid"}`, &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || res.Rows[0].SID != 9100001 || res.Rows[0].Count != 2 || res.Rows[0].SeverityName != "medium" {
		t.Fatalf("alerts %+v", res)
	}
	if err := call(t, sock, "alerts", `{"engine":true}`, &res); err != nil || res.Total != 1 || res.Rows[0].SID != 2210045 {
		t.Errorf("engine alerts %+v %v", res, err)
	}
	if err := call(t, sock, "alerts", `{"severity":[2],"devices":["02:00:00:00:00:0a"],"start":"-1h"}`, &res); err != nil || res.Total != 1 {
		t.Errorf("severity filter %+v %v", res, err)
	}
	// A week back by default: a start after the alerts finds none.
	if err := call(t, sock, "alerts", `{"start":"-1m"}`, &res); err != nil || res.Total != 0 {
		t.Errorf("start filter %+v %v", res, err)
	}
	var x query.Explanation
	if err := call(t, sock, "alerts", `{"sort":"sid","limit":1}`, &res); err != nil {
		t.Fatal(err)
	}
	if err := call(t, sock, "alerts", `{"id":`+strconv.FormatInt(res.Rows[0].ID, 10)+`}`, &x); err != nil {
		t.Fatal(err)
	}
	if x.Rule == nil || !strings.HasPrefix(x.Rule.Msg, "PAKON stalkerware DNS") || x.Severity != "medium" || x.Alert.Count != 2 {
		t.Errorf("explanation %+v", x)
	}
	for _, bad := range []string{`{"id":"x"}`, `{"sort":"bytes"}`, `{"severity":["high"]}`} {
		if err := call(t, sock, "alerts", bad, nil); ubus.StatusOf(err) != ubus.StatusInvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if err := call(t, sock, "alerts", `{"id":42}`, nil); ubus.StatusOf(err) != ubus.StatusNotFound {
		t.Errorf("unknown id: %v, want NOT_FOUND", err)
	}
	var rs struct {
		Files []rules.FileInfo `json:"files"`
	}
	if err := call(t, sock, "alert_rules", `{}`, &rs); err != nil || len(rs.Files) != 1 || rs.Files[0].Rules != 4 {
		t.Errorf("alert_rules %+v %v", rs, err)
	}
}

func TestAlertsWithoutRules(t *testing.T) {
	sock := alertSetup(t, false)
	var res query.AlertResult
	if err := call(t, sock, "alerts", `{"limit":1}`, &res); err != nil || len(res.Rows) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	var x query.Explanation
	if err := call(t, sock, "alerts", `{"id":`+strconv.FormatInt(res.Rows[0].ID, 10)+`}`, &x); err != nil || x.Rule != nil || x.RuleMissing == "" {
		t.Errorf("explanation without rules %+v %v", x, err)
	}
	var rs map[string]any
	if err := call(t, sock, "alert_rules", `{}`, &rs); err != nil || !strings.Contains(rs["status"].(map[string]any)["message"].(string), "not configured") {
		t.Errorf("alert_rules %+v %v", rs, err)
	}
}
