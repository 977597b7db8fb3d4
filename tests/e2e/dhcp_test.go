package e2e

import (
	"testing"

	"github.com/pakon/pakon/tests/netlab"
	"github.com/pakon/pakon/tests/pakontest"
)

// TestDHCPNameFromTraffic: a device announces its host name in DHCP (real
// dnsmasq on the router), and its flows carry that name, resolved through
// the router's DNS forwarder.
func TestDHCPNameFromTraffic(t *testing.T) {
	netlab.Require(t, "dnsmasq")
	lab := netlab.New(t, netlab.Config{
		Dnsmasq: true,
		Clients: []netlab.ClientConfig{{Name: "tablet", MAC: "02:00:00:00:00:0c", DHCP: true}},
	})
	capture := lab.StartCapture(t)
	lease := lab.Clients[0].DHCP(t)
	if lease.Hostname != "tablet" && lease.Hostname != "" {
		t.Logf("lease %+v", lease)
	}
	steps := lab.Clients[0].Run(t, "https://www.example.test/bytes/3000")
	eve := netlab.RunSuricataOnPcap(t, capture.Stop(t), t.TempDir())

	pk := pakontest.New(t)
	if _, errOut, code := pk.Run(t, "import", eve); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	res := pk.Show(t, "--no-filter")
	row := rowFor(t, res, steps[0])
	if row.Device == nil || *row.Device != "tablet" {
		t.Fatalf("device name %v, want tablet; rows:\n%s", row.Device, dump(res))
	}
	if row.MAC != "02:00:00:00:00:0c" || row.ObservedName != "www.example.test" {
		t.Errorf("row %+v", row)
	}
	for _, r := range res.Rows {
		if r.DestPort == 67 || r.DestPort == 68 || r.DestPort == 53 {
			t.Errorf("DHCP/DNS flow stored: %+v", r)
		}
	}
}
