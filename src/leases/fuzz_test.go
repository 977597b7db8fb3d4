package leases_test

import (
	"bytes"
	"os"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/uci"
)

// macForm is how every MAC address leaves the package.
var macForm = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// checkName fails on a device name that CleanName would still change: a
// name from a file goes to the UI and the database as it is returned.
func checkName(t *testing.T, name string) {
	t.Helper()
	if leases.CleanName(name) != name || len(name) > 255 || !utf8.ValidString(name) {
		t.Fatalf("name %q is not clean", name)
	}
}

// FuzzReadLeases feeds arbitrary bytes as a dnsmasq lease file (the file
// is written by dnsmasq, but clients choose their host names and client
// ids). Parsing must never panic; every lease returned has a valid
// address, a canonical MAC or none, and a clean name.
func FuzzReadLeases(f *testing.F) {
	seed, err := os.ReadFile("testdata/dhcp.leases")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{
		"1700000000 aa:bb:cc:dd:ee:01 192.168.1.100 host\x01name 01:aa:bb:cc:dd:ee:01\n",
		"0 00:11:22:33:44:55:66:77 10.0.0.1 * *\n",
		"1700000000 1 fd00::1 x 00:01:00:01\n",
		"1700000000 1 fd00::1 x 00:03:00:01:aa:bb:cc:dd:ee\n",
		"-1 aa:bb:cc:dd:ee:01 192.168.1.1 y *\n",
		"99999999999999999999 aa:bb:cc:dd:ee:01 ::ffff:192.168.1.1 z *\n",
		"duid\n", "duid 00\n", "\n\n   \n", "1 2 3 4 5 6 7 8 9\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, bad, err := leases.ReadLeases(bytes.NewReader(data), "fuzz")
		if err != nil && len(data) < 64<<10 {
			t.Fatalf("read error on %d bytes: %v", len(data), err)
		}
		for _, e := range bad {
			if _, ok := e.(*leases.LineError); !ok {
				t.Fatalf("bad line reported as %T", e)
			}
		}
		for _, l := range ls {
			if !l.IP.IsValid() {
				t.Fatalf("lease without address: %+v", l)
			}
			if l.MAC != "" && !macForm.MatchString(l.MAC) {
				t.Fatalf("MAC %q not canonical", l.MAC)
			}
			checkName(t, l.Hostname)
		}
	})
}

// FuzzHosts feeds arbitrary UCI text as /etc/config/dhcp and reads its
// host sections: never a panic, names clean, MACs canonical.
func FuzzHosts(f *testing.F) {
	seed, err := os.ReadFile("testdata/dhcp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{
		"config host\n\toption name 'a'\n\toption mac '00:11:22:*:*:*'\n",
		"config host\n\toption name ' b. '\n\tlist mac 'AA-BB-CC-DD-EE-FF'\n\tlist mac '00:00:5e:00:53:01:02:03'\n",
		"config host\n\toption name 'c'\n\toption ip '::ffff:192.168.1.5'\n",
		"config host\n\toption name '\x7f'\n\toption ip '10.0.0.1'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := uci.Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		hosts, _ := leases.Hosts(file)
		for _, h := range hosts {
			if h.Name == "" {
				t.Fatalf("host without name: %+v", h)
			}
			checkName(t, h.Name)
			if len(h.MACs) == 0 && !h.IP.IsValid() {
				t.Fatalf("host names nothing: %+v", h)
			}
			for _, m := range h.MACs {
				if !macForm.MatchString(m) {
					t.Fatalf("MAC %q not canonical", m)
				}
			}
			if h.IP.Is4In6() {
				t.Fatalf("IP %v not unmapped", h.IP)
			}
		}
	})
}
