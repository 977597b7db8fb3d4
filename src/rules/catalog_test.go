package rules_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/rules"
)

func TestCatalog(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/local.rules")
	local := filepath.Join(dir, "local.rules")
	os.WriteFile(local, b, 0o644)
	os.WriteFile(filepath.Join(dir, "classification.config"), []byte("config classification: trojan-activity,A Network Trojan was detected,1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "reference.config"), []byte("config reference: url http://\nconfig reference: cve http://cve.test/?id=\n"), 0o644)
	now := time.Unix(1_800_000_000, 0)
	c := rules.NewCatalog(rules.CatalogOptions{
		RuleFiles:          []string{filepath.Join(dir, "missing.rules"), filepath.Join(dir, "*.rules")},
		ClassificationFile: filepath.Join(dir, "classification.config"),
		ReferenceFile:      filepath.Join(dir, "reference.config"),
		Now:                func() time.Time { return now },
	})
	r, ok := c.Lookup(1, 9100001)
	if !ok {
		t.Fatal("rule 9100001 not found")
	}
	if r.Msg != "PAKON stalkerware DNS lookup of spy.example.test" || r.Rev != 2 || r.Line != 2 || r.File != local {
		t.Errorf("rule %+v", r)
	}
	if len(r.References) != 2 || r.References[0].URL != "http://example.test/stalkerware" || r.References[1].URL != "http://cve.test/?id=2024-0001" {
		t.Errorf("references %+v", r.References)
	}
	if r, ok := c.Lookup(3, 9100001); !ok || r.Msg != "PAKON gid 3" {
		t.Errorf("gid 3: %+v %v", r, ok)
	}
	// Enabled wins over the commented-out copy before it.
	if r, ok := c.Lookup(0, 9100003); !ok || !r.Enabled || r.Rev != 4 {
		t.Errorf("9100003: %+v %v", r, ok)
	}
	if _, ok := c.Lookup(1, 1); ok {
		t.Error("found a rule that is not there")
	}
	if cl, ok := c.ClassByDescription("A Network Trojan was detected"); !ok || cl.Priority != 1 || cl.Name != "trojan-activity" {
		t.Errorf("class %+v %v", cl, ok)
	}
	files := c.Files()
	if len(files) != 2 || files[0].Error == "" || files[1].Rules != 4 || files[1].Disabled != 1 {
		t.Errorf("files %+v", files)
	}
	// A changed file is indexed again, at the latest after MinCheck.
	os.WriteFile(local, []byte(`alert ip any any -> any any (msg:"new"; sid:9100001; rev:9;)`+"\n"), 0o644)
	os.Chtimes(local, now.Add(time.Hour), now.Add(time.Hour))
	now = now.Add(rules.DefaultMinCheck)
	if r, ok := c.Lookup(1, 9100001); !ok || r.Rev != 9 || r.Msg != "new" {
		t.Errorf("after the change: %+v %v", r, ok)
	}
	if _, ok := c.Lookup(1, 9100002); ok {
		t.Error("a rule deleted from the file is still found")
	}
}
