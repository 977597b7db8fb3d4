package ingest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pakon/pakon/src/ingest"
)

// alertLine is Suricata 7's alert on the device's TLS client hello.
func alertLine(at float64, flowID int, sid int, sni string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"alert","src_ip":%q,"src_port":%d,"dest_ip":"203.0.113.10","dest_port":443,"proto":"TCP","ether":{"src_mac":%q,"dest_mac":%q},"alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":1,"signature":"stalkerware SNI","category":"A Network Trojan was detected","severity":1,"metadata":{"tag":["stalkerware"]}},"tls":{"sni":%q},"app_proto":"tls","direction":"to_server","flow":{"start":%q,"src_ip":%q,"dest_ip":"203.0.113.10","src_port":%d,"dest_port":443}}`,
		ts(at), flowID, deviceIP, 40000+flowID, deviceMAC, routerMAC, sid, sni, ts(at-0.1), deviceIP, 40000+flowID)
}

func TestPipelineStoresFoldedAlerts(t *testing.T) {
	db := mustOpenDB(t)
	p, _ := newPipeline(t, db, ingest.Options{BatchSize: 2})
	wait := run(t, context.Background(), p)
	for i := range 10 {
		put(t, p, alertLine(1_700_000_000+float64(i), 100+i, 9000001, "spy.example.test"))
	}
	put(t, p, alertLine(1_700_000_100, 200, 9000002, "other.example.test"))
	p.CloseInput()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	rows, err := db.SQL().Query("SELECT sid, mac, hostname, count, flow_id FROM alerts ORDER BY sid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		sid         int
		mac, host   string
		count, flow int64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.sid, &r.mac, &r.host, &r.count, &r.flow); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []row{{9000001, deviceMAC, "spy.example.test", 10, 109}, {9000002, deviceMAC, "other.example.test", 1, 200}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alerts %+v, want %+v", got, want)
	}
	if s := p.Stats(); s.Flow.Alerts != 11 {
		t.Errorf("Stats().Flow.Alerts = %d, want 11", s.Flow.Alerts)
	}
}
