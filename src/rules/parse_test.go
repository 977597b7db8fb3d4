package rules_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/rules"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       rules.Rule
		err        error
	}{
		{
			name: "full",
			line: `alert dns $HOME_NET any -> any any (msg:"ET MALWARE spy \"x\"\; y"; dns.query; content:"a\;b"; reference:url,example.test/a; reference: cve,2024-1; classtype:trojan-activity; sid:2030001; rev:3; metadata:affected_product Android, created_at 2020_01_01, tag stalkerware;)`,
			want: rules.Rule{Enabled: true, Action: "alert", Header: "dns $HOME_NET any -> any any", GID: 1, SID: 2030001, Rev: 3,
				Msg: `ET MALWARE spy "x"; y`, Classtype: "trojan-activity",
				References: []rules.Reference{{Type: "url", Value: "example.test/a"}, {Type: "cve", Value: "2024-1"}},
				Metadata:   map[string][]string{"affected_product": {"Android"}, "created_at": {"2020_01_01"}, "tag": {"stalkerware"}}},
		},
		{
			name: "disabled with gid and priority",
			line: `#  drop tcp any any -> any 22 (msg:"x"; gid:3; sid:7; priority:1;)`,
			want: rules.Rule{Action: "drop", Header: "tcp any any -> any 22", GID: 3, SID: 7, Msg: "x", Priority: 1},
		},
		{name: "comment", line: "# just a comment", err: rules.ErrNotRule},
		{name: "blank", line: "   ", err: rules.ErrNotRule},
		{name: "not a rule", line: "var HOME_NET (x)", err: rules.ErrNotRule},
		{name: "no sid", line: `alert ip any any -> any any (msg:"x";)`, err: errors.New("rule without sid")},
		{name: "bad sid", line: `alert ip any any -> any any (msg:"x"; sid:abc;)`, err: errors.New("sid")},
		{name: "open quote", line: `alert ip any any -> any any (msg:"x; sid:1;)`, err: errors.New("unterminated")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.Parse(tt.line)
			if tt.err != nil {
				if err == nil || (!errors.Is(err, tt.err) && !strings.Contains(err.Error(), tt.err.Error())) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Text = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigs(t *testing.T) {
	cls, err := rules.ParseClassifications(strings.NewReader(`# comment
config classification: trojan-activity,A Network Trojan was detected, 1
config classification: odd,Has, a comma,2
config classification: broken
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rules.Class{
		"trojan-activity": {Name: "trojan-activity", Description: "A Network Trojan was detected", Priority: 1},
		"odd":             {Name: "odd", Description: "Has, a comma", Priority: 2},
	}
	if !reflect.DeepEqual(cls, want) {
		t.Errorf("classifications %+v", cls)
	}
	refs, err := rules.ParseReferences(strings.NewReader("config reference: cve       http://cve.mitre.org/cgi-bin/cvename.cgi?name=\nconfig reference: url http://\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ typ, val, want string }{
		{"cve", "2024-1", "http://cve.mitre.org/cgi-bin/cvename.cgi?name=2024-1"},
		{"url", "example.test/a", "http://example.test/a"},
		{"URL", "https://x.test/", "https://x.test/"},
		{"md5", "abc", ""},
	} {
		if got := rules.ReferenceURL(refs, tt.typ, tt.val); got != tt.want {
			t.Errorf("ReferenceURL(%s, %s) = %q, want %q", tt.typ, tt.val, got, tt.want)
		}
	}
}

func TestSeverityName(t *testing.T) {
	for sev, want := range map[int]string{0: "unknown", 1: "high", 2: "medium", 3: "low", 4: "informational", 255: "informational"} {
		if got := rules.SeverityName(sev); got != want {
			t.Errorf("SeverityName(%d) = %q, want %q", sev, got, want)
		}
	}
}
