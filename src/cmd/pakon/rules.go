package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/rules"
)

// RulesCommand manages the Suricata rules behind alerts: `pakon rules
// update` (the daily job of cron and the systemd timer) hands the
// configured sources to suricata-update and reloads Suricata; `pakon rules
// status` prints the last update's outcome.
type RulesCommand struct {
	stdout, stderr io.Writer
}

const rulesUsage = `usage: pakon rules [-c FILE] update|status [-force] [-j]

  update   fetch the configured rule sources (suricata-update), merge the
           local rule files and reload Suricata's rules without a restart
  status   print the last update's outcome and the rule files
`

// Run parses the subcommand and runs it.
func (c *RulesCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("rules", c.stderr)
	cfgPath := fs.String("c", config.DefaultPath, "UCI config `file`")
	force := fs.Bool("force", false, "update even when rules.update is off")
	jsonOut := fs.Bool("j", false, "print JSON")
	fs.Usage = func() { fmt.Fprint(fs.Output(), rulesUsage); fs.PrintDefaults() }
	// Options may come before and after the subcommand.
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want a subcommand: update or status")
	}
	sub := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, _, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	switch sub {
	case "update":
		if !cfg.Rules.Update && !*force {
			fmt.Fprintln(c.stdout, "rule updates are off (rules.update '0'); nothing to do")
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		st, uerr := rules.Update(ctx, updateOptions(cfg))
		if *jsonOut {
			if err := writeJSON(c.stdout, st); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(c.stdout, "%s: %d rules in %s\n", st.Message, st.Rules, filepath.Join(cfg.Rules.Dir, rules.RulesFile))
			if st.Reload != "" {
				fmt.Fprintln(c.stdout, st.Reload)
			}
		}
		if uerr != nil {
			return fmt.Errorf("update rules: %w", uerr)
		}
		return nil
	case "status":
		rs, err := rulesStatus(cfg)
		if err != nil {
			return err
		}
		if *jsonOut {
			return writeJSON(c.stdout, rs)
		}
		st := rs.Status
		state := "ok"
		if !st.OK {
			state = "FAILED"
		}
		if st.Time.IsZero() {
			state, st.Message = "never run", "run 'pakon rules update'"
		}
		fmt.Fprintf(c.stdout, "updates: %s, last: %s (%s) %s\n", onOff(rs.Update), state, st.Time.Local().Format(time.DateTime), st.Message)
		for _, f := range rs.Files {
			if f.Error != "" {
				fmt.Fprintf(c.stdout, "  %s: %s\n", f.Path, f.Error)
				continue
			}
			fmt.Fprintf(c.stdout, "  %s: %d rules (%d disabled), %s\n", f.Path, f.Rules, f.Disabled, f.Modified.Local().Format(time.DateTime))
		}
		return nil
	}
	return usagef("unknown subcommand %q (want update or status)", sub)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// updateOptions hands the configured sources to rules.Update.
func updateOptions(cfg *config.Config) rules.UpdateOptions {
	o := rules.UpdateOptions{
		Sources: cfg.Rules.Sources, LocalFiles: cfg.Rules.Local, OutputDir: cfg.Rules.Dir,
		SuricataConfig: cfg.Rules.SuricataConfig, Socket: cfg.Rules.Socket, PidFile: cfg.Rules.PidFile,
	}
	for _, u := range cfg.Rules.URLs {
		o.URLs = append(o.URLs, rules.Source{Name: u.Name, URL: u.URL})
	}
	return o
}

// newCatalog indexes the rule files that explain alerts: the updated
// rules, the local files and the extra ones (Suricata's event rules).
func newCatalog(cfg *config.Config) *rules.Catalog {
	files := append([]string{filepath.Join(cfg.Rules.Dir, rules.RulesFile)}, cfg.Rules.Local...)
	files = append(files, cfg.Rules.Extra...)
	return rules.NewCatalog(rules.CatalogOptions{RuleFiles: files,
		ClassificationFile: cfg.Rules.ClassificationFile, ReferenceFile: cfg.Rules.ReferenceFile})
}

// RulesStatus is the reply of the alert_rules method and pakon rules status.
type RulesStatus struct {
	Update    bool             `json:"update"`
	Directory string           `json:"directory"`
	Sources   []string         `json:"sources"`
	URLs      []rules.Source   `json:"urls"`
	Local     []string         `json:"local"`
	Files     []rules.FileInfo `json:"files"`
	Status    rules.Status     `json:"status"`
}

func rulesStatus(cfg *config.Config) (*RulesStatus, error) {
	return rulesStatusFrom(cfg, newCatalog(cfg))
}

func rulesStatusFrom(cfg *config.Config, cat *rules.Catalog) (*RulesStatus, error) {
	st, err := rules.LoadStatus(cfg.Rules.Dir)
	if err != nil {
		return nil, err
	}
	rs := &RulesStatus{Update: cfg.Rules.Update, Directory: cfg.Rules.Dir, Sources: cfg.Rules.Sources,
		URLs: []rules.Source{}, Local: cfg.Rules.Local, Files: cat.Files(), Status: st}
	for _, u := range cfg.Rules.URLs {
		rs.URLs = append(rs.URLs, rules.Source{Name: u.Name, URL: u.URL})
	}
	if rs.Sources == nil {
		rs.Sources = []string{}
	}
	if rs.Local == nil {
		rs.Local = []string{}
	}
	if st.Time.IsZero() {
		rs.Status.Message = "rules were never updated ('pakon rules update')"
		if !cfg.Rules.Update {
			rs.Status.Message = "rule updates are off (rules.update)"
		}
	}
	return rs, nil
}
