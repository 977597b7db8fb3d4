package luci

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

func ucall(t *testing.T, u *UCI, method, args string) map[string]any {
	t.Helper()
	v, err := ubus.ParseJSON([]byte(args))
	if err != nil {
		t.Fatal(err)
	}
	var h ubus.Handler
	for _, m := range u.Object().Methods {
		if m.Name == method {
			h = m.Handler
		}
	}
	res, err := h(context.Background(), &ubus.Request{Method: method, Args: v.(ubus.Table)})
	if err != nil {
		t.Fatalf("uci %s %s: %v", method, args, err)
	}
	m, _ := res.(map[string]any)
	return m
}

// TestUCIStagesUntilApply follows what LuCI's uci.save and
// ui.changes.apply send: changes show in get at once, reach the file only
// at apply, and anonymous section names stay put when others go.
func TestUCIStagesUntilApply(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pakon")
	orig := "# pakon\nconfig monitor 'monitor'\n\toption commit_interval '1h'\n\nconfig archive_rule\n\toption up_to '1d'\n\nconfig archive_rule\n\toption up_to '3d'\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	u := &UCI{Dir: dir}
	values := ucall(t, u, "get", `{"config":"pakon"}`)["values"].(map[string]any)
	var first, second string
	for name, s := range values {
		sec := s.(map[string]any)
		switch sec["up_to"] {
		case "1d":
			first = name
		case "3d":
			second = name
		}
	}
	if first == "" || second == "" || first == second {
		t.Fatalf("anonymous sections named %q and %q in %v", first, second, values)
	}

	ucall(t, u, "delete", `{"config":"pakon","section":"`+first+`"}`)
	ucall(t, u, "set", `{"config":"pakon","section":"`+second+`","values":{"window":"900"}}`)
	ucall(t, u, "set", `{"config":"pakon","section":"monitor","values":{"commit_interval":"30m","interface":["br-lan","br-guest"]}}`)
	added := ucall(t, u, "add", `{"config":"pakon","type":"device","values":{"mac":"02:00:00:00:00:0b","name":"phone"}}`)["section"].(string)
	ucall(t, u, "delete", `{"config":"pakon","section":"monitor","options":["nothing"]}`)

	sec := ucall(t, u, "get", `{"config":"pakon","section":"`+second+`"}`)["values"].(map[string]any)
	if sec["window"] != "900" || sec["up_to"] != "3d" {
		t.Errorf("staged section %s = %v", second, sec)
	}
	if v := ucall(t, u, "get", `{"config":"pakon","section":"`+added+`","option":"name"}`)["value"]; v != "phone" {
		t.Errorf("added section's name = %v", v)
	}
	if data, _ := os.ReadFile(path); string(data) != orig {
		t.Fatalf("file changed before apply:\n%s", data)
	}
	if n := len(ucall(t, u, "changes", `{}`)["changes"].(map[string]any)["pakon"].([]any)); n != 5 {
		t.Errorf("%d changes listed, want 5", n)
	}

	ucall(t, u, "apply", `{"rollback":true,"timeout":10}`)
	data, _ := os.ReadFile(path)
	want := "# pakon\nconfig monitor 'monitor'\n\toption commit_interval '30m'\n\tlist interface 'br-lan'\n\tlist interface 'br-guest'\n\n" +
		"config archive_rule\n\toption up_to '3d'\n\toption window '900'\n\nconfig device\n\toption mac '02:00:00:00:00:0b'\n\toption name 'phone'\n"
	if string(data) != want {
		t.Errorf("after apply:\n%s\nwant:\n%s", data, want)
	}
	if c := ucall(t, u, "changes", `{}`)["changes"].(map[string]any); len(c) != 0 {
		t.Errorf("changes left after apply: %v", c)
	}
	if !strings.Contains(string(data), "phone") {
		t.Error("added section lost")
	}
}
