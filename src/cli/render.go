package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pakon/pakon/src/query"
)

// NoRecords is what the table prints for an empty result, as PaKon did.
const NoRecords = "no records to show"

// WriteJSON writes v (a *query.Result, *query.DeviceResult or
// *query.TopResult) as one JSON object, e.g. {"rows": […], "total": N}.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// CSVHeader is the header row of flow and aggregate CSV output: the JSON
// row fields in order.
var CSVHeader = []string{"start", "end", "duration", "mac", "device", "device_source", "src_ip", "src_port",
	"dest_ip", "dest_port", "proto", "app_proto", "hostname", "hostname_unicode", "observed_name", "name_source",
	"bytes_sent", "bytes_received", "active", "flows"}

// WriteCSV writes flow or aggregate rows with a header row, quoted per
// RFC 4180 (CRLF line ends). Times are ISO 8601 in UTC with microseconds,
// so that spreadsheets and scripts agree; an unnamed device is "".
func WriteCSV(w io.Writer, res *query.Result) error {
	cw := newCSV(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range res.Rows {
		rec := []string{isoTime(r.Start), isoTime(r.End), strconv.FormatFloat(r.Duration, 'f', 6, 64), r.MAC,
			deref(r.Device), r.DeviceSource, r.SrcIP, strconv.Itoa(r.SrcPort), r.DestIP, strconv.Itoa(r.DestPort),
			r.Proto, r.AppProto, r.Hostname, r.HostnameUnicode, r.ObservedName, r.NameSource,
			strconv.FormatInt(r.BytesSent, 10), strconv.FormatInt(r.BytesReceived, 10),
			strconv.FormatBool(r.Active), strconv.Itoa(r.Flows)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// DevicesCSVHeader is the header row of WriteDevicesCSV.
var DevicesCSVHeader = []string{"mac", "device", "device_source", "ip", "start", "end", "flows", "hosts",
	"bytes_sent", "bytes_received", "active"}

// WriteDevicesCSV writes per-device summaries with a header row.
func WriteDevicesCSV(w io.Writer, res *query.DeviceResult) error {
	cw := newCSV(w)
	if err := cw.Write(DevicesCSVHeader); err != nil {
		return err
	}
	for _, d := range res.Rows {
		if err := cw.Write([]string{d.MAC, deref(d.Device), d.DeviceSource, d.IP, isoTime(d.Start), isoTime(d.End),
			strconv.Itoa(d.Flows), strconv.Itoa(d.Hosts), strconv.FormatInt(d.BytesSent, 10),
			strconv.FormatInt(d.BytesReceived, 10), strconv.FormatBool(d.Active)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// TopCSVHeader is the header row of WriteTopCSV; the entries left out
// follow as one row with rank "other".
var TopCSVHeader = []string{"rank", "key", "hostname_unicode", "mac", "device", "bytes_sent", "bytes_received",
	"flows", "time"}

// WriteTopCSV writes a ranking with a header row.
func WriteTopCSV(w io.Writer, res *query.TopResult) error {
	cw := newCSV(w)
	if err := cw.Write(TopCSVHeader); err != nil {
		return err
	}
	rows := res.Rows
	if res.Other != nil {
		rows = append(rows[:len(rows):len(rows)], *res.Other)
	}
	for i, t := range rows {
		rank := strconv.Itoa(i + 1)
		if i >= len(res.Rows) {
			rank = "other"
		}
		if err := cw.Write([]string{rank, t.Key, t.HostnameUnicode, t.MAC, deref(t.Device),
			strconv.FormatInt(t.BytesSent, 10), strconv.FormatInt(t.BytesReceived, 10), strconv.Itoa(t.Flows),
			strconv.FormatFloat(t.Time, 'f', 3, 64)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func newCSV(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return cw
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isoTime(sec float64) string {
	return time.UnixMicro(int64(sec * 1e6)).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// TableOptions shape the text tables.
type TableOptions struct {
	// Width is the terminal width; 0 does not limit the table (output
	// to a pipe or file).
	Width int
	// Location is for times; nil means local time.
	Location *time.Location
}

func (o TableOptions) time(sec float64) string {
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	return time.UnixMicro(int64(sec * 1e6)).In(loc).Format("2006-01-02 15:04:05")
}

// WriteTable writes flows as a table like PaKon's pakon-show: local start
// time, duration ("+" while the flow is in progress), device name or MAC,
// host name (Unicode form, long names elided from the left), port name,
// protocol and human sizes.
func WriteTable(w io.Writer, res *query.Result, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, NoRecords)
		return err
	}
	t := table{cols: []column{
		{title: "Start", trim: 5}, {title: "Duration", right: true, drop: 3},
		{title: "Device", shrink: elideRight, min: 12}, {title: "Hostname", shrink: elideLeft, min: 16},
		{title: "Port", drop: 2}, {title: "Proto", drop: 1}, {title: "Sent", right: true}, {title: "Received", right: true},
	}}
	for i := range res.Rows {
		r := &res.Rows[i]
		t.add(opts.time(r.Start), duration(r), device(r), host(r), PortName(r.DestPort), proto(r),
			HumanBytes(r.BytesSent), HumanBytes(r.BytesReceived))
	}
	return t.write(w, opts.Width)
}

// WriteAggregateTable writes aggregate rows: first start, span to the
// last end, device, host, port, protocol, flows and sizes.
func WriteAggregateTable(w io.Writer, res *query.Result, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, NoRecords)
		return err
	}
	t := table{cols: []column{
		{title: "First", trim: 5}, {title: "Span", right: true, drop: 3},
		{title: "Device", shrink: elideRight, min: 12}, {title: "Hostname", shrink: elideLeft, min: 16},
		{title: "Port", drop: 2}, {title: "Proto", drop: 1}, {title: "Flows", right: true},
		{title: "Sent", right: true}, {title: "Received", right: true},
	}}
	for i := range res.Rows {
		r := &res.Rows[i]
		t.add(opts.time(r.Start), duration(r), device(r), host(r), PortName(r.DestPort), proto(r),
			strconv.Itoa(r.Flows), HumanBytes(r.BytesSent), HumanBytes(r.BytesReceived))
	}
	return t.write(w, opts.Width)
}

// WriteDevicesTable writes per-device summaries.
func WriteDevicesTable(w io.Writer, res *query.DeviceResult, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, NoRecords)
		return err
	}
	t := table{cols: []column{
		{title: "Device", shrink: elideRight, min: 12}, {title: "MAC", drop: 3},
		{title: "IP", shrink: elideRight, min: 15, drop: 4}, {title: "First", trim: 5, drop: 2},
		{title: "Last", trim: 5, drop: 1}, {title: "Flows", right: true}, {title: "Hosts", right: true},
		{title: "Sent", right: true}, {title: "Received", right: true},
	}}
	for _, d := range res.Rows {
		name := printable(deref(d.Device))
		if d.Device == nil {
			name = "-"
		}
		mac := d.MAC
		if mac == "" {
			mac = "-"
		}
		t.add(name, mac, d.IP, opts.time(d.Start), opts.time(d.End), strconv.Itoa(d.Flows), strconv.Itoa(d.Hosts),
			HumanBytes(d.BytesSent), HumanBytes(d.BytesReceived))
	}
	return t.write(w, opts.Width)
}

// WriteTopTable writes a ranking, the entries left out summed as "other".
func WriteTopTable(w io.Writer, res *query.TopResult, by, metric string, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, NoRecords)
		return err
	}
	title := "Hostname"
	if by == query.ByDevice {
		title = "Device"
	}
	cols := []column{{title: "#", right: true}, {title: title, shrink: elideLeft, min: 16},
		{title: "Sent", right: true}, {title: "Received", right: true}, {title: "Total", right: true},
		{title: "Flows", right: true}}
	if metric == query.MetricTime {
		cols = append(cols, column{title: "Time", right: true})
	}
	t := table{cols: cols}
	add := func(rank string, e query.TopEntry) {
		label := e.Key
		switch {
		case rank == "":
			label = "(other)"
		case e.Device != nil:
			label = *e.Device + " (" + e.Key + ")"
		case e.HostnameUnicode != "":
			label = e.HostnameUnicode
		}
		cells := []string{rank, printable(label), HumanBytes(e.BytesSent), HumanBytes(e.BytesReceived),
			HumanBytes(e.BytesSent + e.BytesReceived), strconv.Itoa(e.Flows)}
		if metric == query.MetricTime {
			cells = append(cells, HumanDuration(e.Time))
		}
		t.add(cells...)
	}
	for i, e := range res.Rows {
		add(strconv.Itoa(i+1), e)
	}
	if res.Other != nil {
		add("", *res.Other)
	}
	return t.write(w, opts.Width)
}

func duration(r *query.Row) string {
	d := HumanDuration(r.Duration)
	if r.Active {
		d += "+"
	}
	return d
}

func device(r *query.Row) string {
	switch {
	case r.Device != nil:
		return printable(*r.Device)
	case r.MAC != "":
		return r.MAC
	}
	return r.SrcIP
}

func host(r *query.Row) string {
	if r.HostnameUnicode != "" {
		return printable(r.HostnameUnicode)
	}
	if r.Hostname == "" {
		return "-"
	}
	return printable(r.Hostname)
}

func proto(r *query.Row) string {
	if r.AppProto == "" || r.AppProto == "failed" {
		return strings.ToLower(r.Proto)
	}
	return r.AppProto
}

// printable replaces characters a terminal would act on: names come off
// the network and must not move the cursor or change colours.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ' {
			return '?'
		}
		return r
	}, s)
}

// wellKnownPorts names the ports a home network sees most, as PaKon did
// with /etc/services.
var wellKnownPorts = map[int]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 67: "bootps", 68: "bootpc",
	80: "http", 110: "pop3", 123: "ntp", 143: "imap", 443: "https", 465: "smtps", 587: "submission",
	853: "domain-s", 993: "imaps", 995: "pop3s", 1194: "openvpn", 1883: "mqtt", 3478: "stun", 5222: "xmpp",
	5223: "apns", 5228: "gcm", 8080: "http-alt", 8443: "https-alt", 8883: "secure-mqtt", 51820: "wireguard",
}

// PortName returns the service name of a well-known port, else the number.
func PortName(port int) string {
	if n, ok := wellKnownPorts[port]; ok {
		return n
	}
	return strconv.Itoa(port)
}

// ParsePort reads a port number or one of the names PortName gives.
func ParsePort(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 65535 {
			return 0, fmt.Errorf("port %d out of range 0-65535", n)
		}
		return n, nil
	}
	for port, name := range wellKnownPorts {
		if strings.EqualFold(name, s) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("unknown port %q (want a number or a name such as https)", s)
}

// HumanBytes formats a byte count with binary units ("1.5 MiB").
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// HumanDuration formats seconds compactly ("45s", "3m20s", "2h05m",
// "3d04h"); under a second it shows milliseconds ("120ms").
func HumanDuration(sec float64) string {
	if sec < 1 {
		return fmt.Sprintf("%dms", int((time.Duration(sec*float64(time.Second))+500*time.Microsecond)/time.Millisecond))
	}
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
