package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/config"
)

func TestAlertsAndRulesOptions(t *testing.T) {
	c, warns, err := fromText(t, `
config alerts 'alerts'
	option keep '30d'
	option database_limit '500'
	option notify_command '/usr/bin/logger-alert'
	option notify_url 'https://hooks.example.test/pakon'
	option notify_severity '2'
	option notify_interval '1h'

config rules 'rules'
	option update '1'
	option directory '/tmp/rules'
	list source 'et/open'
	list url 'pts https://piroguetoolsuite.github.io/suricata-rules/suricata.rules'
	list local '/etc/pakon/local.rules'
	option suricata_socket '/run/x.socket'
`)
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v", err, warns)
	}
	wantA := config.Alerts{Keep: 30 * config.Day, Limit: 500, NotifyCommand: "/usr/bin/logger-alert",
		NotifyURL: "https://hooks.example.test/pakon", NotifySeverity: 2, NotifyInterval: time.Hour}
	if c.Alerts != wantA {
		t.Errorf("alerts %+v", c.Alerts)
	}
	r := c.Rules
	if !r.Update || r.Dir != "/tmp/rules" || !reflect.DeepEqual(r.Sources, []string{"et/open"}) ||
		!reflect.DeepEqual(r.URLs, []config.RuleURL{{Name: "pts", URL: "https://piroguetoolsuite.github.io/suricata-rules/suricata.rules"}}) ||
		!reflect.DeepEqual(r.Local, []string{"/etc/pakon/local.rules"}) || r.Socket != "/run/x.socket" ||
		r.PidFile != config.DefaultSuricataPidFile || r.ClassificationFile != config.DefaultClassificationFile {
		t.Errorf("rules %+v", r)
	}
	c, _, err = fromText(t, "config rules\n\tlist local '/etc/pakon/local.rules'\n")
	if err != nil || len(c.Rules.URLs) != 0 {
		t.Errorf("local files only: urls %+v %v, want none", c.Rules.URLs, err)
	}
	c, _, _ = fromText(t, "config rules\n\toption update '1'\n")
	if len(c.Rules.URLs) != 1 || c.Rules.URLs[0].Name != "pts" {
		t.Errorf("no source named: urls %+v, want the default", c.Rules.URLs)
	}
	d := config.Default()
	if d.Alerts.Keep != 90*config.Day || d.Alerts.Limit != config.DefaultAlertLimit || d.Rules.Update || d.Rules.Dir != "/srv/pakon/rules" {
		t.Errorf("defaults %+v %+v", d.Alerts, d.Rules)
	}
}

func TestAlertsAndRulesErrors(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"config alerts\n\toption keep 'soon'", "option keep: invalid duration"},
		{"config alerts\n\toption notify_url 'ftp://x'", "option notify_url: invalid URL"},
		{"config alerts\n\toption notify_severity '5'", "option notify_severity: 5 out of range"},
		{"config rules\n\tlist source 'et/open; rm -rf /'", "invalid source name"},
		{"config rules\n\tlist url 'https://x.test/a.rules'", "want 'NAME URL'"},
		{"config rules\n\tlist url 'x gopher://x.test/a.rules'", "invalid URL"},
		{"config rules\n\tlist local 'relative.rules'", "option local:"},
	} {
		_, _, err := fromText(t, tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.text, err, tt.want)
		}
	}
}
