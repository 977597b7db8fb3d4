package cli_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pakon/pakon/src/cli"
	"github.com/pakon/pakon/src/query"
)

func sampleResult() *query.Result {
	name := `Dad's "work", laptop` + "\n2nd line"
	return &query.Result{Total: 3, Rows: []query.Row{
		{Start: 1700000000.25, End: 1700000100.5, Duration: 100.25, MAC: "02:00:00:00:00:01", Device: &name,
			DeviceSource: "user", SrcIP: "192.168.1.10", SrcPort: 50000, DestIP: "198.51.100.1", DestPort: 443,
			Proto: "TCP", AppProto: "tls", Hostname: "scontent-prg1-1.xx.fbcdn.net.a.very.long.name.example.com",
			ObservedName: "scontent-prg1-1.xx.fbcdn.net", NameSource: "sni", BytesSent: 1536, BytesReceived: 5 << 20, Flows: 1},
		{Start: 1700000200, End: 1700000200.5, Duration: 0.5, MAC: "02:00:00:00:00:02", SrcIP: "192.168.1.11",
			DestIP: "2001:db8::1", DestPort: 5000, Proto: "UDP", AppProto: "failed", Hostname: "xn--bcher-kva.example",
			HostnameUnicode: "bücher.example", ObservedName: "xn--bcher-kva.example", NameSource: "dns",
			BytesSent: 10, BytesReceived: 20, Active: true, Flows: 1},
		{Start: 1700000300, End: 1700000300, MAC: "", SrcIP: "192.168.1.12", DestIP: "203.0.113.5", DestPort: 80,
			Proto: "TCP", AppProto: "http", Hostname: "evil\x1b[31m.example", ObservedName: "evil\x1b[31m.example", Flows: 4},
	}}
}

func TestWriteCSVParsesBack(t *testing.T) {
	res := sampleResult()
	var buf bytes.Buffer
	if err := cli.WriteCSV(&buf, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\r\n") {
		t.Error("RFC 4180 wants CRLF line ends")
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || !slices.Equal(recs[0], cli.CSVHeader) {
		t.Fatalf("%d records, header %q", len(recs), recs[0])
	}
	col := func(rec []string, name string) string { return rec[slices.Index(cli.CSVHeader, name)] }
	r := recs[1]
	if col(r, "device") != *res.Rows[0].Device || col(r, "hostname") != res.Rows[0].Hostname ||
		col(r, "start") != "2023-11-14T22:13:20.250000Z" || col(r, "bytes_received") != strconv.Itoa(5<<20) ||
		col(r, "flows") != "1" || col(r, "active") != "false" {
		t.Errorf("row 1: %q", r)
	}
	if col(recs[2], "hostname_unicode") != "bücher.example" || col(recs[2], "device") != "" || col(recs[2], "active") != "true" {
		t.Errorf("row 2: %q", recs[2])
	}
	if col(recs[3], "flows") != "4" || col(recs[3], "mac") != "" {
		t.Errorf("row 3: %q", recs[3])
	}
}

func TestWriteJSONParsesBack(t *testing.T) {
	res := sampleResult()
	var buf bytes.Buffer
	if err := cli.WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Rows  []map[string]any `json:"rows"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Total != 3 || len(raw.Rows) != 3 {
		t.Fatalf("%+v", raw)
	}
	for _, k := range []string{"start", "end", "duration", "mac", "device", "src_ip", "src_port", "dest_ip", "dest_port",
		"proto", "app_proto", "hostname", "observed_name", "name_source", "bytes_sent", "bytes_received", "active", "flows"} {
		for i, r := range raw.Rows {
			if _, ok := r[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
	}
	if raw.Rows[1]["device"] != nil || raw.Rows[0]["device"] != *res.Rows[0].Device || raw.Rows[0]["start"] != 1700000000.25 {
		t.Errorf("values: %v", raw.Rows[:2])
	}
	if strings.Contains(buf.String(), `\u0026`) {
		t.Error("HTML escaping in JSON")
	}
}

func TestWriteTable(t *testing.T) {
	res := sampleResult()
	opts := cli.TableOptions{Location: time.UTC}
	var buf bytes.Buffer
	if err := cli.WriteTable(&buf, res, opts); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Start", "2023-11-14 22:13:20", "1m40s", "https", "tls", "5.0 MiB", "1.5 KiB",
		"bücher.example", "500ms+", "udp", "192.168.1.12", "evil?[31m.example", res.Rows[0].Hostname} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("terminal escape passed through")
	}
	for _, width := range []int{100, 80} {
		buf.Reset()
		opts.Width = width
		if err := cli.WriteTable(&buf, res, opts); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("width %d: line of %d: %q", width, n, l)
			}
		}
		// Host names lose their start, not their end.
		if !strings.Contains(buf.String(), "…") || !strings.Contains(lines[1], "example.com") {
			t.Errorf("width %d: host not elided from the left:\n%s", width, buf.String())
		}
	}
	buf.Reset()
	if err := cli.WriteTable(&buf, &query.Result{}, opts); err != nil || buf.String() != "no records to show\n" {
		t.Errorf("empty: %q %v", buf.String(), err)
	}
	buf.Reset()
	if err := cli.WriteAggregateTable(&buf, res, cli.TableOptions{Location: time.UTC}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Flows") || !strings.Contains(buf.String(), "  4  ") {
		t.Errorf("aggregate table:\n%s", buf.String())
	}
}

func TestOtherWriters(t *testing.T) {
	name := "tv"
	devs := &query.DeviceResult{Total: 2, Rows: []query.DeviceSummary{
		{MAC: "02:00:00:00:00:01", Device: &name, IP: "192.168.1.5", Start: 1700000000, End: 1700003600, Flows: 3, Hosts: 2, BytesSent: 1, BytesReceived: 2},
		{IP: "192.168.1.9", Start: 1700000000, End: 1700000001, Flows: 1, Hosts: 1},
	}}
	var buf bytes.Buffer
	if err := cli.WriteDevicesCSV(&buf, devs); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 3 || !slices.Equal(recs[0], cli.DevicesCSVHeader) || recs[1][1] != "tv" || recs[2][3] != "192.168.1.9" {
		t.Errorf("devices CSV %q %v", recs, err)
	}
	buf.Reset()
	if err := cli.WriteDevicesTable(&buf, devs, cli.TableOptions{Location: time.UTC}); err != nil || !strings.Contains(buf.String(), "tv") {
		t.Errorf("devices table %q %v", buf.String(), err)
	}
	top := &query.TopResult{Total: 3, Rows: []query.TopEntry{{Key: "a.test", BytesSent: 5, Flows: 1, Time: 61}, {Key: "b.test"}},
		Other: &query.TopEntry{BytesReceived: 7, Flows: 2}}
	buf.Reset()
	if err := cli.WriteTopCSV(&buf, top); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 4 || recs[3][0] != "other" || recs[1][1] != "a.test" || recs[1][8] != "61.000" {
		t.Errorf("top CSV %q %v", recs, err)
	}
	buf.Reset()
	if err := cli.WriteTopTable(&buf, top, query.ByHostname, query.MetricTime, cli.TableOptions{}); err != nil ||
		!strings.Contains(buf.String(), "(other)") || !strings.Contains(buf.String(), "1m01s") {
		t.Errorf("top table %q %v", buf.String(), err)
	}
}

func TestHumanFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := cli.HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for sec, want := range map[float64]string{0: "0ms", 0.1204: "120ms", 1: "1s", 59.4: "59s", 200: "3m20s", 7500: "2h05m", 3*86400 + 4*3600: "3d04h"} {
		if got := cli.HumanDuration(sec); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", sec, got, want)
		}
	}
	for _, c := range []struct {
		in   string
		want int
	}{{"443", 443}, {"https", 443}, {"HTTP", 80}, {"0", 0}, {"65535", 65535}, {"gcm", 5228}} {
		if got, err := cli.ParsePort(c.in); err != nil || got != c.want {
			t.Errorf("ParsePort(%q) = %d, %v", c.in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "65536", "nosuchservice", "44 3"} {
		if _, err := cli.ParsePort(bad); err == nil {
			t.Errorf("ParsePort(%q): no error", bad)
		}
	}
	if cli.PortName(443) != "https" || cli.PortName(12345) != "12345" {
		t.Error("PortName")
	}
}
