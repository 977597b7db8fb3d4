package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/pakon/pakon/src/uci"
)

var alertsOptions = map[string]optionFunc{
	"keep": func(l *loader, o *uci.Option) error {
		d, err := ParseDuration(last(o))
		if err == nil {
			l.c.Alerts.Keep = d
		}
		return err
	},
	"database_limit": countOption(func(c *Config) *int { return &c.Alerts.Limit }, 1, math.MaxInt32),
	"notify_command": pathOption(func(c *Config) *string { return &c.Alerts.NotifyCommand }),
	"notify_url": func(l *loader, o *uci.Option) error {
		u, err := url.Parse(last(o))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid URL %q (want http:// or https://)", last(o))
		}
		l.c.Alerts.NotifyURL = last(o)
		return nil
	},
	"notify_severity": countOption(func(c *Config) *int { return &c.Alerts.NotifySeverity }, 1, 4),
	"notify_interval": func(l *loader, o *uci.Option) error {
		d, err := ParseDuration(last(o))
		if err == nil {
			l.c.Alerts.NotifyInterval = d
		}
		return err
	},
}

var rulesOptions = map[string]optionFunc{
	"update":    boolOption(func(c *Config) *bool { return &c.Rules.Update }),
	"directory": pathOption(func(c *Config) *string { return &c.Rules.Dir }),
	"source": func(l *loader, o *uci.Option) error {
		return l.list(o, "rules.source", &l.c.Rules.Sources, checkSourceName)
	},
	"url": func(l *loader, o *uci.Option) error {
		if !l.seen["rules.url"] {
			l.c.Rules.URLs = nil
			l.seen["rules.url"] = true
		}
		for i, v := range o.Values {
			line := o.Line
			if i < len(o.Lines) && o.Lines[i] != 0 {
				line = o.Lines[i]
			}
			u, err := parseRuleURL(v)
			if err != nil {
				l.errorf(line, "option %s: %v", o.Name, err)
				continue
			}
			l.c.Rules.URLs = append(l.c.Rules.URLs, u)
		}
		return nil
	},
	"local": func(l *loader, o *uci.Option) error {
		return l.list(o, "rules.local", &l.c.Rules.Local, checkAbsPath)
	},
	"explain": func(l *loader, o *uci.Option) error {
		return l.list(o, "rules.explain", &l.c.Rules.Extra, checkAbsPath)
	},
	"classification":   pathOption(func(c *Config) *string { return &c.Rules.ClassificationFile }),
	"reference":        pathOption(func(c *Config) *string { return &c.Rules.ReferenceFile }),
	"suricata_config":  pathOption(func(c *Config) *string { return &c.Rules.SuricataConfig }),
	"suricata_socket":  pathOption(func(c *Config) *string { return &c.Rules.Socket }),
	"suricata_pidfile": pathOption(func(c *Config) *string { return &c.Rules.PidFile }),
}

// checkSourceName accepts suricata-update's source names ("et/open",
// "oisf/trafficid").
func checkSourceName(s string) (string, error) {
	if s == "" || len(s) > 64 || strings.ContainsAny(s, " \t\n'\"$`;&|") || strings.HasPrefix(s, "-") {
		return "", fmt.Errorf("invalid source name %q (want a suricata-update name such as et/open)", s)
	}
	return s, nil
}

// parseRuleURL reads "NAME URL".
func parseRuleURL(v string) (RuleURL, error) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return RuleURL{}, errors.New("want 'NAME URL', e.g. 'pts https://piroguetoolsuite.github.io/suricata-rules/suricata.rules'")
	}
	if _, err := checkSourceName(f[0]); err != nil {
		return RuleURL{}, err
	}
	u, err := url.Parse(f[1])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
		return RuleURL{}, fmt.Errorf("invalid URL %q (want http://, https:// or file://)", f[1])
	}
	return RuleURL{Name: f[0], URL: f[1]}, nil
}
