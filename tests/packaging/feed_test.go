package packaging_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// scanFeed does what the buildroot's include/scan.mk does with a feed
// checkout: find files named Makefile at depth 1 to 5 (following links)
// that contain "call BuildPackage" (or Build/DefaultTargets,
// KernelPackage), and return their directories relative to the feed.
func scanFeed(t *testing.T, feed string) []string {
	t.Helper()
	sig := regexp.MustCompile(`call (Build/DefaultTargets|BuildPackage|KernelPackage)`)
	var dirs []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p) // find -L
			if err != nil {
				continue
			}
			if fi.IsDir() {
				if depth < 5 && e.Name() != ".git" {
					walk(p, depth+1)
				}
				continue
			}
			if e.Name() != "Makefile" {
				continue
			}
			if b, err := os.ReadFile(p); err == nil && sig.Match(b) {
				rel, _ := filepath.Rel(feed, dir)
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
	}
	walk(feed, 1)
	sort.Strings(dirs)
	return dirs
}

// TestFeedDiscoverable: ./scripts/feeds update finds exactly the pakon
// and luci-app-pakon packages, in directories named like the packages
// (feeds install links package/feeds/pakon/<dir>, and
// "make package/pakon/compile" goes by that name).
func TestFeedDiscoverable(t *testing.T) {
	got := scanFeed(t, repo)
	want := []string{"luci-app-pakon", "openwrt/pakon"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("feed scan finds %q, want %q", got, want)
	}
	feedMk := readFile(t, filepath.Join(repo, "openwrt/pakon/Makefile"))
	if !regexp.MustCompile(`(?m)^include \.\./\.\./Makefile\.openwrt$`).MatchString(feedMk) {
		t.Errorf("openwrt/pakon/Makefile does not include ../../Makefile.openwrt")
	}
	if !regexp.MustCompile(`(?m)^ *SCAN_DEPS *= *\.\./\.\./Makefile\.openwrt$`).MatchString(feedMk) {
		t.Errorf("openwrt/pakon/Makefile: no SCAN_DEPS on Makefile.openwrt; the scanner would miss its changes")
	}
	mk := readFile(t, filepath.Join(repo, "Makefile.openwrt"))
	if !strings.Contains(mk, "$(eval $(call BuildPackage,pakon))") {
		t.Errorf("Makefile.openwrt does not build the pakon package")
	}
	luci := readFile(t, filepath.Join(repo, "luci-app-pakon/Makefile"))
	if !strings.Contains(luci, "include $(TOPDIR)/feeds/luci/luci.mk") {
		t.Errorf("luci-app-pakon/Makefile does not use luci.mk")
	}
	conf := readFile(t, filepath.Join(repo, "feeds.conf"))
	if !regexp.MustCompile(`(?m)^src-(git|link) pakon \S+$`).MatchString(conf) {
		t.Errorf("feeds.conf has no src-git/src-link pakon line:\n%s", conf)
	}
}

// makeVar returns the value of "NAME:=value" in a Makefile.
func makeVar(t *testing.T, mk, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:?=\s*(.*)$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile.openwrt does not set %s", name)
	}
	return strings.TrimSpace(m[1])
}

// TestMakefileOpenWrt checks Makefile.openwrt against the tree it builds:
// the Go package exists, the tags match the native build, golang-package.mk
// copies every go:embed directory, the installed files exist after
// Build/Prepare's copy, and the conffiles are installed.
func TestMakefileOpenWrt(t *testing.T) {
	mk := readFile(t, filepath.Join(repo, "Makefile.openwrt"))
	mod := makeVar(t, mk, "GO_PKG")
	if mod != "github.com/pakon/pakon" {
		t.Errorf("GO_PKG %q", mod)
	}
	bp := makeVar(t, mk, "GO_PKG_BUILD_PKG")
	if _, err := os.Stat(filepath.Join(repo, strings.TrimPrefix(bp, mod+"/"), "main.go")); err != nil {
		t.Errorf("GO_PKG_BUILD_PKG %s: %v", bp, err)
	}
	if tags := makeVar(t, mk, "GO_PKG_TAGS"); !strings.Contains(tags, "sqlite_omit_load_extension") {
		t.Errorf("GO_PKG_TAGS %q lacks sqlite_omit_load_extension (the top-level Makefile's TAGS)", tags)
	}
	if !strings.Contains(mk, "golang-package.mk") || !strings.Contains(mk, "golang/host") {
		t.Errorf("Makefile.openwrt does not use golang-package.mk with golang/host")
	}

	// golang-package.mk copies .go/.c/.h, go.mod/go.sum and testdata, plus
	// paths matching the GO_PKG_INSTALL_EXTRA regular expressions.
	var extras []*regexp.Regexp
	for _, e := range strings.Fields(makeVar(t, mk, "GO_PKG_INSTALL_EXTRA")) {
		extras = append(extras, regexp.MustCompile(e))
	}
	embed := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	err := filepath.WalkDir(filepath.Join(repo, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		for _, m := range embed.FindAllStringSubmatch(readFile(t, p), -1) {
			for _, pat := range strings.Fields(m[1]) {
				files, _ := filepath.Glob(filepath.Join(filepath.Dir(p), pat))
				if len(files) == 0 {
					t.Errorf("%s: go:embed %s matches nothing", p, pat)
				}
				for _, f := range files {
					rel, _ := filepath.Rel(repo, f)
					rel = filepath.ToSlash(rel)
					ok := false
					for _, x := range extras {
						ok = ok || x.MatchString(rel)
					}
					if !ok {
						t.Errorf("embedded %s is not copied by golang-package.mk: add it to GO_PKG_INSTALL_EXTRA", rel)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Build/Prepare copies the tree as is, so $(PKG_BUILD_DIR)/X is X here.
	for _, m := range regexp.MustCompile(`\$\(PKG_BUILD_DIR\)/(\S+)`).FindAllStringSubmatch(mk, -1) {
		if _, err := os.Stat(filepath.Join(repo, m[1])); err != nil {
			t.Errorf("Makefile.openwrt installs %s: %v", m[1], err)
		}
	}
	cf := regexp.MustCompile(`(?s)define Package/pakon/conffiles\n(.*?)\nendef`).FindStringSubmatch(mk)
	if cf == nil {
		t.Fatal("no Package/pakon/conffiles")
	}
	for _, f := range strings.Fields(cf[1]) {
		if !strings.Contains(mk, "$(1)"+f+"\n") {
			t.Errorf("conffile %s is not installed", f)
		}
	}
	if !strings.Contains(cf[1], "/etc/config/pakon") {
		t.Errorf("/etc/config/pakon is no conffile")
	}
}

// TestMakefileOpenWrtInstallsUCIDefaults: every uci-defaults script the
// repository has is installed by the buildroot package too, not only by
// the SDK-free .ipk builder (which takes the whole directory).
func TestMakefileOpenWrtInstallsUCIDefaults(t *testing.T) {
	mk := readFile(t, filepath.Join(repo, "Makefile.openwrt"))
	entries, err := os.ReadDir(filepath.Join(repo, "uci-defaults"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.Contains(mk, "/etc/uci-defaults/"+e.Name()) {
			t.Errorf("Makefile.openwrt does not install uci-defaults/%s", e.Name())
		}
	}
}
