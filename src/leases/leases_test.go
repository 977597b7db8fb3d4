package leases_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/uci"
)

func TestReadLeases(t *testing.T) {
	ip := netip.MustParseAddr
	exp := time.Unix(1700000000, 0).UTC()
	tests := []struct {
		name string
		line string
		want leases.Lease
		bad  string // error message prefix, "" for a good line
	}{
		{"v4", "1700000000 AA:bb:cc:dd:ee:01 192.168.1.100 kids-tablet 01:aa:bb:cc:dd:ee:01",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:01", IP: ip("192.168.1.100"), Hostname: "kids-tablet", ClientID: "01:aa:bb:cc:dd:ee:01"}, ""},
		{"v4 unknown name, infinite", "0 aa:bb:cc:dd:ee:02 192.168.1.101 * *",
			leases.Lease{MAC: "aa:bb:cc:dd:ee:02", IP: ip("192.168.1.101")}, ""},
		{"v4 four fields", "1700000000 aa:bb:cc:dd:ee:02 192.168.1.101 tv",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:02", IP: ip("192.168.1.101"), Hostname: "tv"}, ""},
		{"v4 explicit ethernet type", "1700000000 01-aa:bb:cc:dd:ee:03 10.0.0.3 x *",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:03", IP: ip("10.0.0.3"), Hostname: "x"}, ""},
		{"v4 other hardware", "1700000000 20-aa:bb:cc:dd:ee:03:00:00 10.0.0.4 ib *",
			leases.Lease{Expiry: exp, IP: ip("10.0.0.4"), Hostname: "ib"}, ""},
		{"v4 name cleaned", "1700000000 aa:bb:cc:dd:ee:07 10.0.0.7 host.lan. *",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:07", IP: ip("10.0.0.7"), Hostname: "host.lan"}, ""},
		{"v6 DUID-LLT", "1700000000 12345678 fd00::100 laptop 00:01:00:01:2b:00:00:01:aa:bb:cc:dd:ee:04",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:04", IP: ip("fd00::100"), Hostname: "laptop", ClientID: "00:01:00:01:2b:00:00:01:aa:bb:cc:dd:ee:04", IAID: "12345678"}, ""},
		{"v6 DUID-LL temporary", "1700000000 T87654321 fd00::101 phone 00:03:00:01:aa:bb:cc:dd:ee:05",
			leases.Lease{Expiry: exp, MAC: "aa:bb:cc:dd:ee:05", IP: ip("fd00::101"), Hostname: "phone", ClientID: "00:03:00:01:aa:bb:cc:dd:ee:05", IAID: "T87654321"}, ""},
		{"v6 DUID-EN has no MAC", "1700000000 1 fd00::102 nas 00:02:00:00:ab:11:de:ad:be:ef",
			leases.Lease{Expiry: exp, IP: ip("fd00::102"), Hostname: "nas", ClientID: "00:02:00:00:ab:11:de:ad:be:ef", IAID: "1"}, ""},
		{"v6 DUID-LL of other hardware", "1700000000 1 fd00::104 x 00:03:00:06:aa:bb:cc:dd:ee:05",
			leases.Lease{Expiry: exp, IP: ip("fd00::104"), Hostname: "x", ClientID: "00:03:00:06:aa:bb:cc:dd:ee:05", IAID: "1"}, ""},
		{"v6 unknown all", "1700000000 2 fd00::103 * *",
			leases.Lease{Expiry: exp, IP: ip("fd00::103"), IAID: "2"}, ""},
		{"short hex bytes", "1700000000 a:b:c:d:e:f 10.0.0.8 s *",
			leases.Lease{Expiry: exp, MAC: "0a:0b:0c:0d:0e:0f", IP: ip("10.0.0.8"), Hostname: "s"}, ""},
		{"garbage", "garbage line", leases.Lease{}, "f:1: 2 fields"},
		{"bad expiry", "soon aa:bb:cc:dd:ee:01 10.0.0.1 x *", leases.Lease{}, `f:1: invalid expiry "soon"`},
		{"bad ip", "1 aa:bb:cc:dd:ee:01 300.1.1.1 x *", leases.Lease{}, `f:1: invalid address "300.1.1.1"`},
		{"bad mac", "1 aa:bb:zz:dd:ee:01 10.0.0.1 x *", leases.Lease{}, `f:1: invalid hardware address`},
		{"bad iaid", "1 aa:bb:cc:dd:ee:01 fd00::1 x *", leases.Lease{}, `f:1: invalid IAID`},
		{"bad client id", "1 aa:bb:cc:dd:ee:01 10.0.0.1 x 0g:11", leases.Lease{}, `f:1: invalid client ID`},
		{"bad duid line", "duid", leases.Lease{}, "f:1: duid line with 1 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := leases.ReadLeases(strings.NewReader(tt.line+"\n"), "f")
			if err != nil {
				t.Fatal(err)
			}
			if tt.bad != "" {
				if len(got) != 0 || len(bad) != 1 || !strings.HasPrefix(bad[0].Error(), tt.bad) {
					t.Fatalf("leases %v, bad %v; want one error %q", got, bad, tt.bad)
				}
				var le *leases.LineError
				if !errors.As(bad[0], &le) {
					t.Errorf("%T is not a *LineError", bad[0])
				}
				return
			}
			if len(bad) != 0 || len(got) != 1 {
				t.Fatalf("leases %v, bad %v", got, bad)
			}
			if got[0] != tt.want {
				t.Errorf("got  %+v\nwant %+v", got[0], tt.want)
			}
		})
	}
}

func TestReadLeasesFile(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "dhcp.leases"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, bad, err := leases.ReadLeases(f, "dhcp.leases")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Errorf("%d leases, want 6: %v", len(got), got)
	}
	var msgs []string
	for _, e := range bad {
		msgs = append(msgs, e.Error())
	}
	want := []string{"dhcp.leases:4: 3 fields", "dhcp.leases:9: invalid address"}
	if len(msgs) != len(want) {
		t.Fatalf("bad lines %q, want %q", msgs, want)
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("bad line %q, want prefix %q", msgs[i], want[i])
		}
	}
}

func TestHosts(t *testing.T) {
	f, err := uci.Load(filepath.Join("testdata", "dhcp"))
	if err != nil {
		t.Fatal(err)
	}
	hosts, bad := leases.Hosts(f)
	got := fmt.Sprint(hosts)
	want := "[{kids-tablet [aa:bb:cc:dd:ee:01] 192.168.1.10} " +
		"{laptop [aa:bb:cc:dd:ee:10 aa:bb:cc:dd:ee:11] invalid IP} " +
		"{printer [aa:bb:cc:dd:ee:20 aa:bb:cc:dd:ee:21] 192.168.1.20} " +
		"{nas [] 192.168.1.30}]"
	if got != want {
		t.Errorf("hosts\n got %s\nwant %s", got, want)
	}
	if len(bad) != 1 || !strings.HasPrefix(bad[0].Error(), filepath.Join("testdata", "dhcp")+`:31: host broken: invalid MAC address "aa:bb:cc"`) {
		t.Errorf("bad %v", bad)
	}
}

func TestFindLeaseFile(t *testing.T) {
	dir := t.TempDir()
	dhcp := filepath.Join(dir, "dhcp")
	if err := os.WriteFile(dhcp, []byte("config dnsmasq\n\toption leasefile '/tmp/custom.leases'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := leases.FindLeaseFile(dhcp); got != "/tmp/custom.leases" {
		t.Errorf("FindLeaseFile = %q", got)
	}
	// Without the option, one of the standard places.
	got := leases.FindLeaseFile(filepath.Join(dir, "missing"))
	if got != leases.OpenWrtLeaseFile && got != leases.DebianLeaseFile {
		t.Errorf("FindLeaseFile without config = %q", got)
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"kids-tablet", "kids-tablet"},
		{" host.lan. ", "host.lan"},
		{"a\x00b\x1bc\n", "abc"},
		{"bad\xffutf8", "badutf8"},
		{"Kája", "Kája"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
		{"..", ""},     // found by FuzzReadLeases: "." cleaned again became ""
		{"a. . ", "a"}, // each pass uncovers another dot or space
		{strings.Repeat("a", 254) + " b", strings.Repeat("a", 254)},
	}
	for _, tt := range tests {
		if got := leases.CleanName(tt.in); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
