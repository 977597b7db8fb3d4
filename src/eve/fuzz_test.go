package eve_test

import (
	"testing"

	"github.com/pakon/pakon/src/eve"
)

// FuzzDecode checks that no input makes the decoder panic, and that whatever
// decodes satisfies the invariants the correlator relies on.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"timestamp":"2024-05-01T10:00:00Z","flow_id":1,"event_type":"tls","src_ip":"10.0.0.5","dest_ip":"10.0.0.6","tls":{"sni":"a"}}`,
		`{"timestamp":"2024-05-01T12:00:10.500000+0200","flow_id":1,"event_type":"flow","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.6","dest_port":2,"proto":"TCP","flow":{"bytes_toserver":1,"bytes_toclient":2,"start":"2024-05-01T12:00:00.250000+0200","end":"2024-05-01T12:00:09.750000+0200"},"ether":{"src_macs":["02:00:00:00:00:0a"]}}`,
		`{"timestamp":"2025-03-01T10:00:00.010000+0000","event_type":"dns","dns":{"version":3,"type":"response","queries":[{"rrname":"a","rrtype":"A"}],"answers":[{"rrname":"a","rrtype":"A","ttl":1,"rdata":"192.0.2.1"}]}}`,
		`{"event_type":"dhcp","timestamp":"2024-05-01T10:00:00Z","dhcp":{"hostname":"x\u0000","client_mac":"02:00:00:00:00:0a"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var d eve.Decoder
		var ev eve.Event
		if err := d.Decode(line, &ev); err != nil {
			return
		}
		if ev.Type == eve.TypeFlow && ev.Flow == nil {
			t.Fatal("flow event without flow object")
		}
		if ev.Type == eve.TypeDNS && ev.DNS == nil {
			t.Fatal("dns event without dns object")
		}
	})
}
