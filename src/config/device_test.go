package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pakon/pakon/src/config"
)

func TestSetDeviceName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	orig := `# my settings
config monitor 'monitor'
	# LAN only
	list interface 'br-lan'

config device
	option mac 'aa:bb:cc:dd:ee:ff'
	option name 'old'
	option note 'kept'

config device
	option mac '00:11:22:33:44:55'
	option name 'tv'
`
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		mac, name string
		want      map[string]string
	}{
		{"AA-BB-CC-DD-EE-FF", "Kids tablet", map[string]string{"aa:bb:cc:dd:ee:ff": "Kids tablet", "00:11:22:33:44:55": "tv"}},
		{"02:00:00:00:00:01", "new one", map[string]string{"aa:bb:cc:dd:ee:ff": "Kids tablet", "00:11:22:33:44:55": "tv", "02:00:00:00:00:01": "new one"}},
		{"00:11:22:33:44:55", "", map[string]string{"aa:bb:cc:dd:ee:ff": "Kids tablet", "02:00:00:00:00:01": "new one"}},
		{"00:11:22:33:44:55", "", map[string]string{"aa:bb:cc:dd:ee:ff": "Kids tablet", "02:00:00:00:00:01": "new one"}},
		{"02:00:00:00:00:01", "it's", map[string]string{"aa:bb:cc:dd:ee:ff": "Kids tablet", "02:00:00:00:00:01": "it's"}},
	}
	for i, st := range steps {
		if err := config.SetDeviceName(path, st.mac, st.name); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		c, warns, err := config.Load(path)
		if err != nil {
			t.Fatalf("step %d: load: %v", i, err)
		}
		got := map[string]string{}
		for _, d := range c.Devices {
			got[d.MAC] = d.Name
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d: devices %v, want %v", i, got, st.want)
		}
		// The extra "note" option is unknown to pakon but must survive.
		if len(warns) != 1 || !strings.Contains(warns[0].Msg, "'note'") {
			t.Errorf("step %d: warnings %v", i, warns)
		}
	}
	text, _ := os.ReadFile(path)
	for _, keep := range []string{"# my settings\n", "\t# LAN only\n", "option note 'kept'"} {
		if !strings.Contains(string(text), keep) {
			t.Errorf("file lost %q:\n%s", keep, text)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
}

func TestSetDeviceNameNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	if err := config.SetDeviceName(path, "aa:bb:cc:dd:ee:ff", "x"); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "config device\n\toption mac 'aa:bb:cc:dd:ee:ff'\n\toption name 'x'\n"
	if string(text) != want {
		t.Errorf("file %q, want %q", text, want)
	}
}

func TestSetDeviceNameDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	dup := "config device\n\toption mac 'aa:bb:cc:dd:ee:ff'\n\toption name 'a'\n\nconfig device\n\toption mac 'AA:BB:CC:DD:EE:FF'\n\toption name 'b'\n"
	if err := os.WriteFile(path, []byte(dup), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := config.SetDeviceName(path, "aa:bb:cc:dd:ee:ff", "c"); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(path)
	if n := strings.Count(string(text), "config device"); n != 1 || !strings.Contains(string(text), "'c'") {
		t.Errorf("file after rename of a duplicated device:\n%s", text)
	}
}

func TestSetDeviceNameRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	for _, tt := range []struct{ mac, name string }{
		{"nonsense", "x"},
		{"aa:bb:cc:dd:ee:ff", " "},
		{"aa:bb:cc:dd:ee:ff", "a\x00b"},
		{"aa:bb:cc:dd:ee:ff", strings.Repeat("x", 256)},
	} {
		if err := config.SetDeviceName(path, tt.mac, tt.name); err == nil {
			t.Errorf("SetDeviceName(%q, %q) succeeded", tt.mac, tt.name)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("rejected calls created the file: %v", err)
	}
	// A file that does not parse is left alone.
	if err := os.WriteFile(path, []byte("config 'x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := config.SetDeviceName(path, "aa:bb:cc:dd:ee:ff", "x"); err == nil {
		t.Error("SetDeviceName on a broken file succeeded")
	}
	if text, _ := os.ReadFile(path); string(text) != "config 'x\n" {
		t.Errorf("broken file rewritten: %q", text)
	}
}

// TestSetDeviceNameConcurrent checks that the file lock serialises
// concurrent edits: no update is lost.
func TestSetDeviceNameConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pakon")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- config.SetDeviceName(path, fmt.Sprintf("02:00:00:00:00:%02x", i), fmt.Sprintf("dev%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Devices) != n {
		t.Errorf("%d devices after %d concurrent edits, want all", len(c.Devices), n)
	}
}
