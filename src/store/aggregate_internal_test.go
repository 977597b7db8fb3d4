package store

import (
	"testing"
	"time"
)

func totals(rows []archRow, dropped map[string]*tally) (flows, bytes int64) {
	for _, r := range rows {
		flows += r.Flows
		bytes += r.BytesSent + r.BytesRcv
	}
	for _, t := range dropped {
		flows += t.flows
		bytes += t.sent + t.rcv
	}
	return
}

const t0 = int64(1_700_000_000_000) // ms

func ar(mac, name, ip string, port int64, startS, endS float64, bytes int64) archRow {
	return archRow{Start: t0 + int64(startS*1000), End: t0 + int64(endS*1000), MAC: mac, Name: name, DestIP: ip,
		DestPort: port, Proto: "TCP", SrcPort: 40000, BytesSent: bytes / 4, BytesRcv: bytes - bytes/4, Flows: 1, Key: 1}
}

func TestApplyRule(t *testing.T) {
	const a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
	tests := []struct {
		name      string
		rows      []archRow
		rule      Rule
		wantRows  int
		wantDrop  int64 // flows dropped
		wantFlows []int64
	}{
		{"gap under window merges", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 5000), ar(a, "x.test", "192.0.2.2", 443, 50, 60, 5000),
		}, Rule{Window: time.Minute}, 1, 0, []int64{2}},
		{"gap at window stays apart", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 5000), ar(a, "x.test", "192.0.2.1", 443, 70, 80, 5000),
		}, Rule{Window: time.Minute}, 2, 0, []int64{1, 1}},
		{"chain merges through overlaps", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 100, 1), ar(a, "x.test", "192.0.2.1", 443, 20, 30, 1),
			ar(a, "x.test", "192.0.2.1", 443, 150, 160, 1),
		}, Rule{Window: time.Minute}, 1, 0, []int64{3}},
		{"device, name, port and proto keep apart", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 5000), ar(b, "x.test", "192.0.2.1", 443, 1, 10, 5000),
			ar(a, "y.test", "192.0.2.1", 443, 2, 10, 5000), ar(a, "x.test", "192.0.2.1", 80, 3, 10, 5000),
		}, Rule{Window: time.Hour}, 4, 0, nil},
		{"unnamed flows group by address", []archRow{
			ar(a, "", "192.0.2.1", 443, 0, 10, 5000), ar(a, "", "192.0.2.2", 443, 1, 10, 5000),
			ar(a, "", "192.0.2.1", 443, 20, 30, 5000),
		}, Rule{Window: time.Hour}, 2, 0, nil},
		{"threshold drops small merged rows and counts them", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 1000), ar(a, "x.test", "192.0.2.1", 443, 20, 30, 1000),
			ar(a, "big.test", "192.0.2.9", 443, 0, 10, 9000), ar(b, "tiny.test", "192.0.2.3", 443, 0, 1, 100),
		}, Rule{Window: time.Minute, SizeThreshold: 4096}, 1, 3, nil},
		{"merged rows reach the threshold together", []archRow{
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 3000), ar(a, "x.test", "192.0.2.1", 443, 20, 30, 3000),
		}, Rule{Window: time.Minute, SizeThreshold: 4096}, 1, 0, []int64{2}},
		{"unset clock never merges across the jump", []archRow{
			{Start: 5_000, End: 6_000, MAC: a, Name: "x.test", DestPort: 443, Proto: "TCP", BytesSent: 9000, Flows: 1},
			{Start: 7_000, End: 8_000, MAC: a, Name: "x.test", DestPort: 443, Proto: "TCP", BytesSent: 9000, Flows: 1},
			ar(a, "x.test", "192.0.2.1", 443, 0, 10, 9000),
		}, Rule{Window: 100 * 365 * 24 * time.Hour}, 3, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]archRow(nil), tt.rows...)
			inFlows, inBytes := totals(in, nil)
			dropped := map[string]*tally{}
			got := applyRule(in, tt.rule, dropped)
			if len(got) != tt.wantRows {
				t.Fatalf("%d rows, want %d: %+v", len(got), tt.wantRows, got)
			}
			var drop int64
			for _, d := range dropped {
				drop += d.flows
			}
			if drop != tt.wantDrop {
				t.Errorf("dropped %d flows, want %d", drop, tt.wantDrop)
			}
			if f, b := totals(got, dropped); f != inFlows || b != inBytes {
				t.Errorf("totals %d flows %d bytes, want %d %d", f, b, inFlows, inBytes)
			}
			for i, want := range tt.wantFlows {
				if i < len(got) && got[i].Flows != want {
					t.Errorf("row %d merges %d flows, want %d", i, got[i].Flows, want)
				}
			}
			// Applying the same rule again changes nothing.
			again := applyRule(append([]archRow(nil), got...), tt.rule, map[string]*tally{})
			if len(again) != len(got) {
				t.Errorf("second pass: %d rows, want %d", len(again), len(got))
			}
		})
	}
}

func TestDueRules(t *testing.T) {
	rules := []Rule{{UpTo: 24 * time.Hour}, {UpTo: 72 * time.Hour}}
	now := time.Unix(1_700_000_000, 0)
	day := now.UnixMilli()/msPerDay - 1 // yesterday: ended at most a day ago
	for _, tt := range []struct {
		day  int64
		want int
	}{{day + 1, 0}, {day, 0}, {day - 1, 1}, {day - 3, 2}, {0, 0}} {
		if got := dueRules(rules, tt.day, now); got != tt.want {
			t.Errorf("day %d: %d rules due, want %d", tt.day, got, tt.want)
		}
	}
}
