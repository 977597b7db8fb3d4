package luci_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubusapi"
	"github.com/pakon/pakon/tests/luci"
)

// TestACLMatchesDaemon keeps the app's ACL, rpcd's and the daemon's method
// table in step: read grants exactly the read methods, write the others.
func TestACLMatchesDaemon(t *testing.T) {
	for _, f := range []string{
		filepath.Join(luci.AppDir(), "root/usr/share/rpcd/acl.d/luci-app-pakon.json"),
		filepath.Join(luci.Root(), "rpcd/pakon.json"),
	} {
		if _, err := os.Stat(f); os.IsNotExist(err) && strings.HasPrefix(f, filepath.Join(luci.Root(), "rpcd")) {
			t.Logf("%s not there yet", f)
			continue
		}
		acl, err := luci.LoadACL(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, g := range acl.Groups {
			read, write := slices.Sorted(slices.Values(g.Read.Ubus["pakon"])), slices.Sorted(slices.Values(g.Write.Ubus["pakon"]))
			if want := slices.Sorted(slices.Values(ubusapi.ReadMethods)); !slices.Equal(read, want) {
				t.Errorf("%s %s: read grants %v, want %v", f, name, read, want)
			}
			if want := slices.Sorted(slices.Values(ubusapi.WriteMethods)); !slices.Equal(write, want) {
				t.Errorf("%s %s: write grants %v, want %v", f, name, write, want)
			}
			if !slices.Contains(g.Read.UCI, "pakon") || !slices.Contains(g.Write.UCI, "pakon") {
				t.Errorf("%s %s: uci pakon not granted for read and write", f, name)
			}
		}
	}
}
