package ubusapi

import (
	"math"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// FuzzArgs decodes arbitrary JSON as a ubus call's arguments (the way
// `ubus call pakon query '…'` hands them over) and reads them as every
// method does. Reading must never panic; accepted values stay within the
// documented bounds, and a rejection is an INVALID_ARGUMENT naming the
// argument.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"start":"-1h","end":"now","limit":10,"offset":5,"sort":"bytes","desc":true}`,
		`{"start":1700000000,"end":1700003600.5}`,
		`{"devices":["02:00:00:00:00:0a","laptop"],"hostnames":"example.com","dest_port":[443,80]}`,
		`{"device":"x","hostname":["a","b"],"app_proto":"tls","proto":["TCP"]}`,
		`{"active":1,"filter":0,"aggregate":true}`,
		`{"limit":0}`, `{"limit":1001}`, `{"limit":1.5}`, `{"offset":-1}`, `{"dest_port":70000}`,
		`{"start":-5}`, `{"start":1e300}`, `{"start":"x"}`, `{"end":"-1d","start":"now"}`,
		`{"devices":[1,2]}`, `{"devices":{"a":1}}`, `{"hostnames":["' OR 1=1 --"]}`,
		`{"bucket":3600,"group":"device","series":5,"by":"hostname","metric":"bytes"}`,
		`{"before":"-1w","all":false,"mac":"02:00:00:00:00:0a","name":"Laptop"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ubus.ParseJSON(data)
		if err != nil {
			return
		}
		tab, ok := v.(ubus.Table)
		if !ok {
			return
		}
		a := newArgs(tab, now)
		p := a.params(24 * time.Hour)
		a.boolean("aggregate", false)
		a.str("by", "")
		a.integer("bucket", 0, 0, 366*86400)
		a.integer("series", 0, 0, 100)
		a.strings("devices")
		a.time("before")
		if a.err != nil {
			ue, ok := a.err.(*ubus.Error)
			if !ok || ue.Status != ubus.StatusInvalidArgument || ue.Msg == "" {
				t.Fatalf("rejection %T %v is not a named INVALID_ARGUMENT", a.err, a.err)
			}
			return
		}
		if p.Limit < 1 || p.Limit > MaxLimit || p.Offset < 0 || p.Offset > math.MaxInt32 {
			t.Fatalf("accepted limit %d offset %d", p.Limit, p.Offset)
		}
		for _, port := range p.DestPorts {
			if port < 0 || port > 65535 {
				t.Fatalf("accepted port %d", port)
			}
		}
		if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
			t.Fatalf("accepted end %v before start %v", p.End, p.Start)
		}
	})
}
