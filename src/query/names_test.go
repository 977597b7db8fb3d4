package query_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/leases"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

var _ query.Names = (*leases.Names)(nil)

// Devices of the name tests, one per source of its name.
const (
	macUser   = "02:00:00:00:0c:01" // named by the user, and in the DHCP config and lease file too
	macNic1   = "02:00:00:00:0c:02" // a DHCP host with two MACs
	macNic2   = "02:00:00:00:0c:03"
	macLease4 = "02:00:00:00:0c:04" // a DHCPv4 lease
	macLease6 = "02:00:00:00:0c:05" // a DHCPv6 lease (DUID-LL)
	macTraf   = "02:00:00:00:0c:06" // a host name seen in DHCP traffic only
	macNone   = "02:00:00:00:0c:07" // nameless
)

const dhcpConfig = `config dnsmasq
	option domain 'lan'

config host
	option name 'dad-laptop'
	option mac '02:00:00:00:0C:02 02-00-00-00-0c-03'

config host
	option name 'old-name'
	option mac '02:00:00:00:0c:01'
`

const leaseFile = `1900000000 02:00:00:00:0c:04 192.168.1.104 kids-tablet 01:02:00:00:00:0c:04
1900000000 02:00:00:00:0c:01 192.168.1.101 lease-name *
duid 00:01:00:01:2c:5f:aa:bb:00:11:22:33:44:55
1900000000 T87654321 fd00::105 tv 00:03:00:01:02:00:00:00:0c:05
`

func namesSetup(t *testing.T) (*query.Engine, *leases.Names, string) {
	t.Helper()
	dir := t.TempDir()
	dhcpPath, leasePath := filepath.Join(dir, "dhcp"), filepath.Join(dir, "dhcp.leases")
	if err := os.WriteFile(dhcpPath, []byte(dhcpConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leasePath, []byte(leaseFile), 0o644); err != nil {
		t.Fatal(err)
	}
	db := MustOpenDB(t)
	var recs []flow.Record
	for i, mac := range []string{macUser, macNic1, macNic2, macLease4, macLease6, macTraf, macNone} {
		recs = append(recs, rec(uint64(i+1), mac, float64(i), float64(i)+1, "x.test", 1, 1))
	}
	MustWrite(t, db, recs...)
	if err := db.Write(context.Background(), &store.Batch{Devices: []flow.DeviceSeen{
		{MAC: macTraf, Hostname: "printer", At: ts(0)},
		{MAC: macUser, Hostname: "android-1234", At: ts(0)},
	}}); err != nil {
		t.Fatal(err)
	}
	names := leases.New(dhcpPath, leasePath)
	names.SetUserNames(map[string]string{macUser: "Kids Phone"})
	return query.New(db, query.Options{Names: names}), names, dhcpPath
}

func TestDeviceNames(t *testing.T) {
	e, _, _ := namesSetup(t)
	res := mustFlows(t, e, query.Params{})
	got := map[string][2]string{}
	for _, r := range res.Rows {
		name := ""
		if r.Device != nil {
			name = *r.Device
		}
		got[r.MAC] = [2]string{name, r.DeviceSource}
	}
	want := map[string][2]string{
		macUser:   {"Kids Phone", "user"},
		macNic1:   {"dad-laptop", "dhcp-config"},
		macNic2:   {"dad-laptop", "dhcp-config"},
		macLease4: {"kids-tablet", "lease"},
		macLease6: {"tv", "lease"},
		macTraf:   {"printer", "dhcp"},
		macNone:   {"", ""},
	}
	for mac, w := range want {
		if got[mac] != w {
			t.Errorf("%s: %q, want %q", mac, got[mac], w)
		}
	}
	// Any source's name selects the device, without case.
	for _, c := range []struct {
		name string
		want []string
	}{
		{"Kids Phone", []string{macUser}},
		{"kids phone", []string{macUser}},
		{"old-name", []string{macUser}},     // DHCP config, shadowed by the user's name
		{"lease-name", []string{macUser}},   // lease file, shadowed too
		{"android-1234", []string{macUser}}, // DHCP traffic, shadowed too
		{"dad-laptop", []string{macNic1, macNic2}},
		{"kids-tablet", []string{macLease4}},
		{"tv", []string{macLease6}},
		{"printer", []string{macTraf}},
	} {
		res := mustFlows(t, e, query.Params{Devices: []string{c.name}})
		var macs []string
		for _, r := range res.Rows {
			macs = append(macs, r.MAC)
		}
		if !slices.Equal(macs, c.want) {
			t.Errorf("-m %q: %v, want %v", c.name, macs, c.want)
		}
	}
}

func TestDeviceNamesReload(t *testing.T) {
	e, _, dhcpPath := namesSetup(t)
	if _, err := e.Flows(context.Background(), query.Params{Devices: []string{"work-laptop"}}); !errors.Is(err, query.ErrNotFound) {
		t.Fatalf("before the edit: %v", err)
	}
	edited := dhcpConfig + "\nconfig host\n\toption name 'work-laptop'\n\toption mac '" + macNone + "'\n"
	// A new mtime and size, as an edit gives.
	if err := os.WriteFile(dhcpPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(dhcpPath, later, later); err != nil {
		t.Fatal(err)
	}
	res := mustFlows(t, e, query.Params{Devices: []string{"work-laptop"}})
	if res.Total != 1 || res.Rows[0].MAC != macNone || res.Rows[0].Device == nil || *res.Rows[0].Device != "work-laptop" {
		t.Errorf("after the edit: %+v", res.Rows)
	}
	devs, err := e.Devices(context.Background(), query.Params{Devices: []string{"work-laptop"}})
	if err != nil || devs.Total != 1 || *devs.Rows[0].Device != "work-laptop" || devs.Rows[0].DeviceSource != "dhcp-config" {
		t.Errorf("device summary after the edit: %+v %v", devs, err)
	}
}
