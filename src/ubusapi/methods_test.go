package ubusapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
	"github.com/pakon/pakon/src/ubusapi"
)

// backend records the write calls it gets.
type backend struct {
	mu      sync.Mutex
	names   map[string]string
	clears  []store.ClearFilter
	reloads int
}

func (b *backend) Status(ctx context.Context) (any, error) {
	return map[string]any{"version": "test", "suricata": map[string]any{"connected": true}}, nil
}

func (b *backend) SetDeviceName(ctx context.Context, mac, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names[mac] = name
	return nil
}

func (b *backend) Clear(ctx context.Context, f store.ClearFilter) (store.ClearStats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clears = append(b.clears, f)
	return store.ClearStats{LiveFlows: 2}, nil
}

func (b *backend) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reloads++
	return nil
}

var now = time.Unix(1_800_000_000, 0)

func setup(t *testing.T) (string, *backend) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "pakon.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var ups []flow.Update
	for i, name := range []string{"www.example.test", "api.example.test", "www.example.test"} {
		start := eve.TimestampOf(now.Add(-time.Duration(10-i) * time.Minute))
		ups = append(ups, flow.Update{Record: flow.Record{
			FlowID: uint64(i + 1), Start: start, End: start + 5e6, MAC: "02:00:00:00:00:0a",
			SrcIP: netip.MustParseAddr("10.99.1.10"), SrcPort: uint16(40000 + i), DestIP: netip.MustParseAddr("203.0.113.10"),
			DestPort: 443, Proto: "TCP", AppProto: "tls", Name: name, Source: flow.SourceSNI,
			BytesSent: 100, BytesReceived: uint64(1000 * (i + 1)),
		}})
	}
	if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	be := &backend{names: map[string]string{}}
	svc := &ubusapi.Service{Engine: query.New(db, query.Options{Now: func() time.Time { return now }}), Backend: be,
		Now: func() time.Time { return now }}

	broker := ubustest.Start(t)
	client := ubus.New(ubus.Options{Path: broker.Path()})
	if err := client.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	if err := client.AddObject(ctx, svc.Object()); err != nil {
		t.Fatal(err)
	}
	return broker.Path(), be
}

func call(t *testing.T, sock, method, args string, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tab, err := ubustest.CallTable(ctx, sock, "pakon", method, args)
	if err != nil {
		return err
	}
	if out != nil {
		data, _ := json.Marshal(tab)
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s reply %s: %v", method, data, err)
		}
	}
	return nil
}

func TestListShowsSignatures(t *testing.T) {
	sock, _ := setup(t)
	out, err := ubustest.List(context.Background(), sock, "pakon")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"query":{`, `"limit":"Integer"`, `"devices":"Array"`, `"aggregate":"Boolean"`, `"set_device_name":{"mac":"String","name":"String"}`, `"status":{}`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
			t.Errorf("ubus -v list pakon lacks %s:\n%s", want, out)
		}
	}
}

func TestQuery(t *testing.T) {
	sock, _ := setup(t)
	var res query.Result
	if err := call(t, sock, "query", `{"limit":2,"ubus_rpc_session":"abc","sort":"received","desc":true}`, &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 3 || len(res.Rows) != 2 || res.Rows[0].BytesReceived != 3000 || res.Rows[0].MAC != "02:00:00:00:00:0a" {
		t.Fatalf("query: %+v", res)
	}
	if err := call(t, sock, "query", `{"hostnames":"api.example.test","start":"-1h"}`, &res); err != nil || res.Total != 1 {
		t.Fatalf("hostname filter: %+v %v", res, err)
	}
	if err := call(t, sock, "query", `{"aggregate":true}`, &res); err != nil || res.Total != 2 {
		t.Fatalf("aggregate: %+v %v", res, err)
	}
	var agg int64
	for _, r := range res.Rows {
		agg += r.BytesReceived
	}
	if agg != 6000 {
		t.Errorf("aggregate bytes %d, want 6000", agg)
	}
	// The default range is the last day: flows from before do not show.
	if err := call(t, sock, "query", `{"end":"-2d","start":0}`, &res); err != nil || res.Total != 0 {
		t.Fatalf("old range: %+v %v", res, err)
	}
}

func TestBadArguments(t *testing.T) {
	sock, be := setup(t)
	for _, c := range []struct{ method, args, want string }{
		{"query", `{"limit":"ten"}`, "limit"},
		{"query", `{"limit":5000}`, "limit"},
		{"query", `{"start":"yesterday-ish"}`, "start"},
		{"query", `{"devices":[1,2]}`, "devices"},
		{"query", `{"start":"-1h","end":"-2h"}`, "end"},
		{"query", `{"sort":"'; DROP TABLE flows; --"}`, "sort"},
		{"query", `{"dest_port":70000}`, "dest_port"},
		{"top", `{"by":"nothing"}`, "by"},
		{"histogram", `{"bucket":-5}`, "bucket"},
		{"set_device_name", `{"mac":"zz","name":"x"}`, "mac"},
		{"clear", `{}`, "clear"},
		{"clear", `{"all":true,"devices":["02:00:00:00:00:0a"]}`, "all"},
	} {
		err := call(t, sock, c.method, c.args, nil)
		var ue *ubus.Error
		if !errors.As(err, &ue) || ue.Status != ubus.StatusInvalidArgument {
			t.Errorf("%s %s: got %v, want INVALID_ARGUMENT", c.method, c.args, err)
		}
	}
	if len(be.names) != 0 || len(be.clears) != 0 {
		t.Errorf("bad calls reached the backend: %+v %+v", be.names, be.clears)
	}
	// A name no source knows is NOT_FOUND, not an empty page.
	err := call(t, sock, "query", `{"devices":["nobody"]}`, nil)
	var ue *ubus.Error
	if !errors.As(err, &ue) || ue.Status != ubus.StatusNotFound {
		t.Errorf("unknown device: %v", err)
	}
}

func TestWriteMethods(t *testing.T) {
	sock, be := setup(t)
	var reply map[string]any
	if err := call(t, sock, "set_device_name", `{"mac":"02-00-00-00-00-0A","name":" kids tablet "}`, &reply); err != nil {
		t.Fatal(err)
	}
	if be.names["02:00:00:00:00:0a"] != "kids tablet" || reply["mac"] != "02:00:00:00:00:0a" {
		t.Errorf("set_device_name: backend %v reply %v", be.names, reply)
	}
	if err := call(t, sock, "clear", `{"devices":["02:00:00:00:00:0a"],"before":"@1700000000"}`, &reply); err != nil {
		t.Fatal(err)
	}
	if len(be.clears) != 1 || be.clears[0].MAC != "02:00:00:00:00:0a" || be.clears[0].Before.Unix() != 1700000000 || reply["deleted"] != float64(2) {
		t.Errorf("clear: %+v reply %v", be.clears, reply)
	}
	if err := call(t, sock, "reload", `{}`, nil); err != nil || be.reloads != 1 {
		t.Errorf("reload: %v, %d", err, be.reloads)
	}
}

func TestReadMethods(t *testing.T) {
	sock, _ := setup(t)
	var devs struct {
		Rows  []map[string]any `json:"rows"`
		Total int              `json:"total"`
	}
	if err := call(t, sock, "devices", `{}`, &devs); err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := call(t, sock, "top", `{"limit":1}`, &top); err != nil {
		t.Fatal(err)
	}
	rows, _ := top["rows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["key"] != "www.example.test" {
		t.Errorf("top: %v", top)
	}
	var hist map[string]any
	if err := call(t, sock, "histogram", `{"start":"-1h","group":"device"}`, &hist); err != nil {
		t.Fatal(err)
	}
	if series, _ := hist["series"].([]any); len(series) != 1 {
		t.Errorf("histogram: %v", hist)
	}
	var st map[string]any
	if err := call(t, sock, "status", `{}`, &st); err != nil || st["version"] != "test" {
		t.Errorf("status: %v %v", st, err)
	}
	if devs.Total != 1 || len(devs.Rows) != 1 || devs.Rows[0]["mac"] != "02:00:00:00:00:0a" {
		t.Errorf("devices: %+v", devs)
	}
}
