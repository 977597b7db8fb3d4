package netlab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RR is a DNS record as trafficgen prints it.
type RR struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data"`
}

// DNSQuery is one query a client made and the reply it got.
type DNSQuery struct {
	Server    string `json:"server"`
	LocalPort int    `json:"local_port"`
	ID        uint16 `json:"id"`
	QName     string `json:"qname"`
	QType     string `json:"qtype"`
	Rcode     string `json:"rcode"`
	Answers   []RR   `json:"answers"`
}

// StepResult is what trafficgen client reports for one step. BytesSent
// and BytesReceived count transport payload (TCP stream bytes including
// TLS records and HTTP headers, or UDP payload); Body* count HTTP bodies.
type StepResult struct {
	Step          string     `json:"step"`
	Kind          string     `json:"kind"`
	Name          string     `json:"name"`
	IP            string     `json:"ip"`
	Port          int        `json:"port"`
	Proto         string     `json:"proto"`
	LocalIP       string     `json:"local_ip"`
	LocalPort     int        `json:"local_port"`
	SNI           string     `json:"sni"`
	TLSVersion    string     `json:"tls_version"`
	Status        int        `json:"status"`
	Requests      int        `json:"requests"`
	BytesSent     int64      `json:"bytes_sent"`
	BytesReceived int64      `json:"bytes_received"`
	BodySent      int64      `json:"body_sent"`
	BodyReceived  int64      `json:"body_received"`
	DNS           []DNSQuery `json:"dns"`
	Start         time.Time  `json:"start"`
	End           time.Time  `json:"end"`
	Error         string     `json:"error"`
}

// Run runs trafficgen client steps (see tests/trafficgen/client.go for the
// syntax) from this device against Lab.Resolver, and fails the test if a
// step fails.
func (c *Client) Run(tb testing.TB, steps ...string) []StepResult {
	tb.Helper()
	res, err := c.TryRun(steps...)
	if err != nil {
		var failed []string
		for _, r := range res {
			if r.Error != "" {
				failed = append(failed, fmt.Sprintf("%s: %s", r.Step, r.Error))
			}
		}
		tb.Fatalf("netlab: client %s: %v\n%s", c.Name, err, strings.Join(failed, "\n"))
	}
	return res
}

// TryRun is Run that returns failed steps (with Error set) and an error
// instead of failing the test.
func (c *Client) TryRun(steps ...string) ([]StepResult, error) {
	args := append([]string{"netns", "exec", c.NS, c.lab.bin, "client", "-dns", c.lab.Resolver}, steps...)
	cmd := exec.Command("ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var res []StepResult
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r StepResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return res, fmt.Errorf("trafficgen output %q: %w", line, err)
		}
		res = append(res, r)
	}
	if runErr != nil {
		return res, fmt.Errorf("trafficgen client: %w: %s", runErr, strings.TrimSpace(stderr.String()))
	}
	return res, nil
}

// Lease is what the DHCP server handed out.
type Lease struct {
	MAC          string   `json:"mac"`
	Hostname     string   `json:"hostname"`
	IP           string   `json:"ip"`
	Server       string   `json:"server"`
	Router       string   `json:"router"`
	LeaseSeconds uint32   `json:"lease_seconds"`
	DNS          []string `json:"dns"`
}

// DHCP runs a DISCOVER/OFFER/REQUEST/ACK exchange with the router's dnsmasq,
// sending the client's name as host name. A client configured with DHCP
// gets its IPv4 address and default route afterwards.
func (c *Client) DHCP(tb testing.TB) Lease {
	tb.Helper()
	out, err := c.lab.Exec(c.NS, c.lab.bin, "dhcp", "-iface", ClientIface, "-hostname", c.Name)
	if err != nil {
		tb.Fatalf("netlab: dhcp on %s: %v", c.Name, err)
	}
	var l Lease
	if err := json.Unmarshal(bytes.TrimSpace(out), &l); err != nil {
		tb.Fatalf("netlab: dhcp output %q: %v", out, err)
	}
	if l.IP != c.IPv4.String() {
		tb.Fatalf("netlab: dhcp gave %s to %s, want %s", l.IP, c.Name, c.IPv4)
	}
	if !c.ipv4Ready {
		if err := c.configureIPv4(); err != nil {
			tb.Fatalf("netlab: %v", err)
		}
	}
	return l
}
