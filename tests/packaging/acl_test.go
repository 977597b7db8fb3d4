package packaging_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// aclGroup is one access group of an rpcd ACL file: per permission
// ("read", "write"), per scope ("ubus", "uci", …), either object → methods
// (table notation) or a list of objects (array notation).
type aclGroup map[string]map[string]json.RawMessage

// loadACL parses an rpcd ACL file strictly: an object of access groups
// whose "read" and "write" entries hold scopes.
func loadACL(t *testing.T, path string) map[string]aclGroup {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]aclGroup{}
	for group, perms := range raw {
		g := aclGroup{}
		for perm, v := range perms {
			switch perm {
			case "description":
				var s string
				if err := json.Unmarshal(v, &s); err != nil || s == "" {
					t.Errorf("%s: %s.description is not a string", path, group)
				}
			case "read", "write":
				var scopes map[string]json.RawMessage
				if err := json.Unmarshal(v, &scopes); err != nil {
					t.Fatalf("%s: %s.%s: %v", path, group, perm, err)
				}
				g[perm] = scopes
			default:
				t.Errorf("%s: %s has %q; rpcd knows only read and write", path, group, perm)
			}
		}
		out[group] = g
	}
	return out
}

// ubusMethods returns the methods of object obj in a scope in table
// notation.
func ubusMethods(t *testing.T, scope json.RawMessage, obj string) []string {
	t.Helper()
	var objs map[string][]string
	if err := json.Unmarshal(scope, &objs); err != nil {
		t.Fatalf("ubus scope: %v", err)
	}
	m := append([]string(nil), objs[obj]...)
	sort.Strings(m)
	return m
}

// uciConfigs returns the configs of a uci scope in array notation.
func uciConfigs(t *testing.T, scope json.RawMessage) []string {
	t.Helper()
	var cfgs []string
	if err := json.Unmarshal(scope, &cfgs); err != nil {
		t.Fatalf("uci scope: %v", err)
	}
	return cfgs
}

// apiMethods reads the method names under "## Read methods" and "## Write
// methods" in docs/ubus-api.md, the contract the ACL must follow.
func apiMethods(t *testing.T) (read, write []string) {
	t.Helper()
	doc := readFile(t, filepath.Join(repo, "docs/ubus-api.md"))
	var cur *[]string
	head := regexp.MustCompile(`^### ([a-z_]+)\s*$`)
	for _, l := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(l, "## Read methods"):
			cur = &read
		case strings.HasPrefix(l, "## Write methods"):
			cur = &write
		case strings.HasPrefix(l, "## "):
			cur = nil
		}
		if m := head.FindStringSubmatch(l); m != nil && cur != nil {
			*cur = append(*cur, m[1])
		}
	}
	sort.Strings(read)
	sort.Strings(write)
	if len(read) == 0 || len(write) == 0 {
		t.Fatalf("no methods found in docs/ubus-api.md (read %q, write %q)", read, write)
	}
	return read, write
}

// TestRPCDACL checks rpcd/pakon.json against the API: read grants exactly
// the read methods and reading the pakon config, write exactly the
// mutating methods and writing it, so a read-only user cannot clear the
// history or rename devices.
func TestRPCDACL(t *testing.T) {
	read, write := apiMethods(t)
	acl := loadACL(t, filepath.Join(repo, "rpcd/pakon.json"))
	g, ok := acl["pakon"]
	if !ok || len(acl) != 1 {
		t.Fatalf("want one access group \"pakon\", got %v", acl)
	}
	if got := ubusMethods(t, g["read"]["ubus"], "pakon"); !equal(got, read) {
		t.Errorf("read ubus methods %q, want %q (docs/ubus-api.md)", got, read)
	}
	if got := ubusMethods(t, g["write"]["ubus"], "pakon"); !equal(got, write) {
		t.Errorf("write ubus methods %q, want %q (docs/ubus-api.md)", got, write)
	}
	if got := uciConfigs(t, g["read"]["uci"]); !equal(got, []string{"pakon"}) {
		t.Errorf("read uci %q, want [pakon]", got)
	}
	if got := uciConfigs(t, g["write"]["uci"]); !equal(got, []string{"pakon"}) {
		t.Errorf("write uci %q, want [pakon]", got)
	}
	for perm, scopes := range g {
		for scope := range scopes {
			if scope != "ubus" && scope != "uci" {
				t.Errorf("%s grants scope %q; pakon needs only ubus and uci", perm, scope)
			}
		}
	}
}

// TestLuciACLSplit checks the LuCI app's ACL, once it exists, for the same
// split: no mutating pakon method is granted by a read permission.
func TestLuciACLSplit(t *testing.T) {
	path := filepath.Join(repo, "luci-app-pakon/root/usr/share/rpcd/acl.d/luci-app-pakon.json")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skip("luci-app-pakon has no ACL yet")
	}
	_, write := apiMethods(t)
	for name, g := range loadACL(t, path) {
		if s, ok := g["read"]["ubus"]; ok {
			for _, m := range ubusMethods(t, s, "pakon") {
				for _, w := range write {
					if m == w {
						t.Errorf("%s: read grants the mutating method %s", name, m)
					}
				}
			}
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
