package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pakon/pakon/src/query"
)

// WriteJSON writes res as one JSON object {"rows": […], "total": N}.
func WriteJSON(w io.Writer, res *query.Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// CSVHeader is the header row of CSV output.
var CSVHeader = []string{"start", "end", "duration", "mac", "device", "src_ip", "src_port", "dest_ip", "dest_port",
	"proto", "app_proto", "hostname", "observed_name", "name_source", "bytes_sent", "bytes_received", "active", "flows"}

// WriteCSV writes res with a header row, quoted per RFC 4180. Times are
// ISO 8601 in UTC so that spreadsheets and scripts agree.
func WriteCSV(w io.Writer, res *query.Result) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range res.Rows {
		device := ""
		if r.Device != nil {
			device = *r.Device
		}
		rec := []string{isoTime(r.Start), isoTime(r.End), strconv.FormatFloat(r.Duration, 'f', 3, 64), r.MAC, device,
			r.SrcIP, strconv.Itoa(r.SrcPort), r.DestIP, strconv.Itoa(r.DestPort), r.Proto, r.AppProto,
			r.Hostname, r.ObservedName, r.NameSource, strconv.FormatInt(r.BytesSent, 10),
			strconv.FormatInt(r.BytesReceived, 10), strconv.FormatBool(r.Active), strconv.Itoa(r.Flows)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func isoTime(sec float64) string {
	return time.UnixMicro(int64(sec * 1e6)).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// wellKnownPorts names the ports a home network sees most, as PaKon did.
var wellKnownPorts = map[int]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 67: "bootps", 68: "bootpc",
	80: "http", 110: "pop3", 123: "ntp", 143: "imap", 443: "https", 465: "smtps", 587: "submission",
	853: "domain-s", 993: "imaps", 995: "pop3s", 1194: "openvpn", 1883: "mqtt", 3478: "stun", 5222: "xmpp",
	5228: "gcm", 5223: "apns", 8080: "http-alt", 8443: "https-alt", 51820: "wireguard",
}

// PortName returns the service name of a well-known port, else the number.
func PortName(port int) string {
	if n, ok := wellKnownPorts[port]; ok {
		return n
	}
	return strconv.Itoa(port)
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

// HumanDuration formats seconds compactly ("45s", "3m20s", "2h05m").
func HumanDuration(sec float64) string {
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

// elideLeft shortens s to width runes, dropping from the left: the end of a
// host name says the most.
func elideLeft(s string, width int) string {
	r := []rune(s)
	if len(r) <= width || width < 2 {
		return s
	}
	return "…" + string(r[len(r)-width+1:])
}

// TableOptions shape the text table.
type TableOptions struct {
	Width    int            // terminal width; 0 means 120
	Location *time.Location // for times; nil means local
}

// WriteTable writes res as an aligned table like PaKon's pakon-show.
func WriteTable(w io.Writer, res *query.Result, opts TableOptions) error {
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, "no records to show")
		return err
	}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	width := opts.Width
	if width <= 0 {
		width = 120
	}
	header := []string{"Start", "Duration", "Device", "Hostname", "Port", "Proto", "Sent", "Received"}
	cells := make([][]string, 0, len(res.Rows))
	for _, r := range res.Rows {
		dev := r.MAC
		if r.Device != nil {
			dev = *r.Device
		}
		if dev == "" {
			dev = r.SrcIP
		}
		host := r.Hostname
		if host == "" {
			host = r.DestIP
		}
		dur := HumanDuration(r.Duration)
		if r.Active {
			dur += "+"
		}
		proto := r.AppProto
		if proto == "" || proto == "failed" {
			proto = strings.ToLower(r.Proto)
		}
		cells = append(cells, []string{
			time.UnixMicro(int64(r.Start * 1e6)).In(loc).Format("2006-01-02 15:04:05"),
			dur, dev, host, PortName(r.DestPort), proto, HumanBytes(r.BytesSent), HumanBytes(r.BytesReceived),
		})
	}
	colw := make([]int, len(header))
	for i, h := range header {
		colw[i] = len(h)
	}
	for _, row := range cells {
		for i, c := range row {
			colw[i] = max(colw[i], len([]rune(c)))
		}
	}
	// Give the host name column what the terminal has left.
	const hostCol = 3
	others := 0
	for i, c := range colw {
		if i != hostCol {
			others += c + 2
		}
	}
	if avail := width - others; avail < colw[hostCol] {
		colw[hostCol] = max(avail, 12)
	}
	line := func(row []string) string {
		var b strings.Builder
		for i, c := range row {
			if i == hostCol {
				c = elideLeft(c, colw[i])
			}
			pad := colw[i] - len([]rune(c))
			if i >= len(row)-2 { // sizes right-aligned
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else {
				b.WriteString(c + strings.Repeat(" ", pad))
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	if _, err := fmt.Fprintln(w, line(header)); err != nil {
		return err
	}
	for _, row := range cells {
		if _, err := fmt.Fprintln(w, line(row)); err != nil {
			return err
		}
	}
	return nil
}
