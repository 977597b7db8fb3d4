package luci_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pakon/pakon/tests/luci"
)

var update = flag.Bool("update", false, "rewrite luci-app-pakon/po/templates/pakon.pot")

// translatable matches _('…') in the app's JavaScript.
var translatable = regexp.MustCompile(`\b_\('((?:[^'\\]|\\.)*)'\)`)

// TestPot checks that po/templates/pakon.pot lists every string the views
// translate, as LuCI's i18n-scan would; -update rewrites it.
func TestPot(t *testing.T) {
	app := luci.AppDir()
	refs := map[string][]string{}
	err := filepath.Walk(filepath.Join(app, "htdocs"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(app, path)
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range translatable.FindAllStringSubmatch(line, -1) {
				s := strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(m[1])
				refs[s] = append(refs[s], fmt.Sprintf("%s:%d", rel, i+1))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	menuFile := "root/usr/share/luci/menu.d/luci-app-pakon.json"
	menu, err := luci.LoadMenu(filepath.Join(app, menuFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range slices.Sorted(maps.Keys(menu)) {
		refs[menu[path].Title] = append(refs[menu[path].Title], menuFile)
	}
	if len(refs) < 50 {
		t.Fatalf("found only %d translatable strings", len(refs))
	}
	ids := make([]string, 0, len(refs))
	for s := range refs {
		ids = append(ids, s)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\"\n")
	for _, s := range ids {
		fmt.Fprintf(&b, "\n#: %s\nmsgid \"%s\"\nmsgstr \"\"\n", strings.Join(refs[s], "\n#: "),
			strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s))
	}
	pot := filepath.Join(app, "po/templates/pakon.pot")
	if *update {
		if err := os.WriteFile(pot, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(pot)
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != b.String() {
		t.Errorf("%s is out of date with the views: go test ./tests/luci -run TestPot -update", pot)
	}
}
