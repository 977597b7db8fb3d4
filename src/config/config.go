// Package config loads pakon's settings from /etc/config/pakon, accepting
// Turris PaKon's options, validating every value and filling in defaults.
package config

import (
	"fmt"
	"net/netip"
	"time"
)

// DefaultPath is where OpenWrt keeps pakon's UCI file.
const DefaultPath = "/etc/config/pakon"

// Defaults for the options that are not given. The database limits are
// PaKon's.
const (
	DefaultEVESocket      = "/var/run/pakon/eve.sock"
	DefaultLiveDB         = "/var/lib/pakon/pakon.db"
	DefaultStateDir       = "/var/lib/pakon"
	DefaultArchivePath    = "/srv/pakon/pakon-archive.db"
	DefaultLiveDBLimit    = 3000000
	DefaultArchiveDBLimit = 10000000
	DefaultQueueSize      = 8192
	DefaultMemoryLimit    = 40 << 20
	DefaultCommitInterval = time.Hour
	DefaultArchiveKeep    = 4 * Week
	DefaultReplaceList    = "/usr/share/pakon/domains_replace"
	DefaultIgnoreList     = "/usr/share/pakon/domains_ignore"
	// Alerts and rules (config alerts, config rules).
	DefaultAlertKeep          = 90 * Day
	DefaultAlertLimit         = 20000
	DefaultRulesDir           = "/srv/pakon/rules"
	DefaultClassificationFile = "/etc/suricata/classification.config"
	DefaultReferenceFile      = "/etc/suricata/reference.config"
	DefaultSuricataConfig     = "/etc/pakon/suricata.yaml"
	DefaultSuricataSocket     = "/var/run/pakon-suricata/command.socket"
	DefaultSuricataPidFile    = "/var/run/pakon-suricata/suricata.pid"
	DefaultNotifySeverity     = 1
	DefaultNotifyInterval     = 10 * time.Minute
)

// Day and Week are the "d" and "w" duration units.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// ModeFilter is PaKon's monitor.mode for Turris "filter" setups, where flow
// records came from conntrack through a helper script instead of
// Suricata. pakon reads flows from Suricata's EVE output only, so this
// mode is accepted with a warning.
const ModeFilter = "filter"

// Config is pakon's validated configuration. Every path is configurable
// so that tests and unprivileged runs can use a temporary directory.
type Config struct {
	// Path is the file the configuration came from ("" for Default).
	Path string

	// Interfaces limits monitoring to flows seen on these interfaces
	// (monitor.interface, PaKon's list). Empty means every interface,
	// which suits a Debian host; the shipped file sets br-lan because
	// MAC addresses seen on the WAN side name no device.
	Interfaces []string
	// Mode is PaKon's monitor.mode: empty for Suricata's EVE output,
	// ModeFilter for PaKon's conntrack source (not supported; a warning).
	Mode string
	// NotifyNewDevices is PaKon's monitor.notify_new_devices (also
	// accepted in its old "common" section): report MAC addresses never
	// seen before.
	NotifyNewDevices bool
	// LiveDBLimit caps the rows of the live database
	// (monitor.database_limit); the oldest rows go first. The live
	// database sits in RAM (tmpfs) on routers, so a higher limit costs
	// memory.
	LiveDBLimit int

	// EVESocket is the unix stream socket Suricata writes EVE lines to
	// (monitor.eve_socket).
	EVESocket string
	// EVEFile, if set, makes pakon follow this eve.json file instead of
	// listening on EVESocket (monitor.eve_file).
	EVEFile string
	// LiveDB is the live SQLite database (monitor.live_db); put it on
	// tmpfs on flash-based routers.
	LiveDB string
	// StateDir holds small state files such as the eve.json offset
	// (monitor.state_dir).
	StateDir string
	// LocalNetworks are the prefixes whose addresses are devices, not
	// destinations (monitor.local_network). Given values replace the
	// default list of private, link-local and ULA prefixes.
	LocalNetworks []netip.Prefix
	// SkipDNS drops flows to port 53 as PaKon does; the DNS answers are
	// still used to name destinations (monitor.skip_dns).
	SkipDNS bool
	// SkipUnidirectional drops flows that moved no bytes in one direction,
	// mostly scans and failed connections (monitor.skip_unidirectional).
	SkipUnidirectional bool
	// MemoryLimit is the daemon's soft memory limit in bytes
	// (monitor.memory_limit, default 40 MiB; 0 = none). Near it the Go
	// runtime collects garbage more often and returns memory to the
	// system sooner: it trades CPU for RAM on small routers. It is not a
	// hard cap; GOMEMLIMIT in the environment overrides it.
	MemoryLimit int64
	// QueueSize is how many EVE lines may wait between the reader and the
	// processor (monitor.queue_size). More absorbs bursts at the cost of
	// about a kilobyte of memory per line; when full, the reader waits.
	QueueSize int
	// CommitInterval is how often the live data is written to the
	// archive on flash (monitor.commit_interval). A power cut loses at
	// most this much history; shorter intervals wear the flash more.
	CommitInterval time.Duration

	// UbusSocket is ubusd's socket (ubus.socket); empty tries
	// /var/run/ubus/ubus.sock, then /var/run/ubus.sock.
	UbusSocket string
	// UbusWriteGroup lets members of this group call the write methods
	// (set_device_name, clear, reload) directly over ubus
	// (ubus.write_group); "" lets only root. LuCI's calls come through
	// rpcd, which runs as root and applies its own ACL.
	UbusWriteGroup string

	// ArchivePath is the archive database (archive.path), on persistent
	// storage.
	ArchivePath string
	// ArchiveKeep is how long archived flows are kept (archive.keep);
	// 0 keeps them forever.
	ArchiveKeep time.Duration
	// ArchiveDBLimit caps the rows of the archive
	// (archive.database_limit); the oldest rows go first.
	ArchiveDBLimit int
	// ArchiveRules are the aggregation levels (config archive_rule
	// sections) in file order, with ascending UpTo.
	ArchiveRules []ArchiveRule

	// ReplaceLists are domain lists that merge a service's domains into
	// one name (lists.replace).
	ReplaceLists []string
	// IgnoreLists are domain lists hidden from results by default
	// (lists.ignore).
	IgnoreLists []string

	// Devices are the names users gave devices (config device sections).
	Devices []Device

	// Alerts are the alert settings (config alerts).
	Alerts Alerts
	// Rules are the rule sources and their updates (config rules).
	Rules Rules
}

// Alerts configure how Suricata's alerts are kept and announced.
type Alerts struct {
	// Keep is how long alerts are kept after they were last seen
	// (alerts.keep); 0 keeps them forever. Alerts are folded per day and
	// few, so the default is longer than flows'.
	Keep time.Duration
	// Limit caps the stored alert rows (alerts.database_limit); the least
	// recently seen go first. They live in RAM with the live database.
	Limit int
	// NotifyCommand is run for new alerts at or above NotifySeverity
	// (alerts.notify_command), with the alert in PAKON_ALERT_* variables.
	NotifyCommand string
	// NotifyURL receives the alert as a JSON POST (alerts.notify_url).
	NotifyURL string
	// NotifySeverity is the least severe alert notified: 1 high only,
	// 2 medium and high, … (alerts.notify_severity).
	NotifySeverity int
	// NotifyInterval is the least time between two notifications of the
	// same rule on the same device (alerts.notify_interval).
	NotifyInterval time.Duration
}

// Rules configure the rule sources that pakon rules update hands to
// suricata-update, and where rules are looked up to explain alerts.
type Rules struct {
	// Update turns the daily update on (rules.update).
	Update bool
	// Dir receives the merged suricata.rules (rules.directory); Suricata
	// loads it from there.
	Dir string
	// Sources are suricata-update index names such as et/open
	// (rules.source).
	Sources []string
	// URLs are sources by URL, "NAME URL" (rules.url), such as PiRogue's
	// stalkerware indicators.
	URLs []RuleURL
	// Local are the user's own rule files (rules.local).
	Local []string
	// Extra are further rule files (globs) consulted to explain alerts
	// only (rules.explain), such as Suricata's own event rules.
	Extra []string
	// ClassificationFile and ReferenceFile give classtypes and reference
	// types meaning (rules.classification, rules.reference).
	ClassificationFile string
	ReferenceFile      string
	// SuricataConfig is pakon's suricata.yaml (rules.suricata_config).
	SuricataConfig string
	// Socket and PidFile reach the running Suricata to reload its rules
	// (rules.suricata_socket, rules.suricata_pidfile).
	Socket  string
	PidFile string
}

// DefaultRuleURLs returns the rule sources by URL of a config that names
// no source, url or local file: PiRogue's stalkerware indicators
// (generated from Echap's IOCs).
func DefaultRuleURLs() []RuleURL {
	return []RuleURL{{Name: "pts", URL: "https://piroguetoolsuite.github.io/suricata-rules/suricata.rules"}}
}

// RuleURL is a rule source by URL.
type RuleURL struct {
	Name, URL string
}

// ArchiveRule is one aggregation level of the archive: flows older than
// UpTo are merged with flows to the same destination and port that start
// within Window of each other's end, and merged flows smaller than
// SizeThreshold bytes (both directions) are deleted.
type ArchiveRule struct {
	UpTo   time.Duration
	Window time.Duration
	// SizeThreshold 0 keeps every flow. (PaKon itself drops flows under
	// 16384 bytes when a rule omits size_threshold; pakon keeps them.)
	SizeThreshold int64
}

// Device is a name a user gave a device.
type Device struct {
	// MAC is lower-case "aa:bb:cc:dd:ee:ff".
	MAC  string
	Name string
}

// Warning is a problem in the file that does not stop pakon, such as an
// unknown option.
type Warning struct {
	Path string
	// Line is 0 for warnings about the whole file.
	Line int
	Msg  string
}

// String returns "path:line: msg", or "path: msg" without a line.
func (w Warning) String() string {
	if w.Line == 0 {
		return fmt.Sprintf("%s: %s", w.Path, w.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", w.Path, w.Line, w.Msg)
}

// Error is an invalid value at one line of the file.
type Error struct {
	Path string
	Line int
	Msg  string
}

// Error returns "path:line: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// DefaultArchiveRules returns the aggregation levels PaKon ships.
func DefaultArchiveRules() []ArchiveRule {
	return []ArchiveRule{
		{UpTo: Day, Window: 60 * time.Second, SizeThreshold: 4096},
		{UpTo: 3 * Day, Window: 900 * time.Second, SizeThreshold: 8192},
		{UpTo: 7 * Day, Window: 1800 * time.Second},
		{UpTo: 14 * Day, Window: 3600 * time.Second},
	}
}

// DefaultLocalNetworks returns the private (RFC 1918), link-local and
// unique-local prefixes.
func DefaultLocalNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// Default returns the configuration used for options that are not set.
func Default() *Config {
	return &Config{
		LiveDBLimit:        DefaultLiveDBLimit,
		EVESocket:          DefaultEVESocket,
		LiveDB:             DefaultLiveDB,
		StateDir:           DefaultStateDir,
		LocalNetworks:      DefaultLocalNetworks(),
		SkipDNS:            true,
		SkipUnidirectional: true,
		QueueSize:          DefaultQueueSize,
		MemoryLimit:        DefaultMemoryLimit,
		CommitInterval:     DefaultCommitInterval,
		ArchivePath:        DefaultArchivePath,
		ArchiveKeep:        DefaultArchiveKeep,
		ArchiveDBLimit:     DefaultArchiveDBLimit,
		ArchiveRules:       DefaultArchiveRules(),
		ReplaceLists:       []string{DefaultReplaceList},
		IgnoreLists:        []string{DefaultIgnoreList},
		Alerts: Alerts{Keep: DefaultAlertKeep, Limit: DefaultAlertLimit,
			NotifySeverity: DefaultNotifySeverity, NotifyInterval: DefaultNotifyInterval},
		Rules: Rules{Dir: DefaultRulesDir, ClassificationFile: DefaultClassificationFile,
			ReferenceFile: DefaultReferenceFile, SuricataConfig: DefaultSuricataConfig,
			Socket: DefaultSuricataSocket, PidFile: DefaultSuricataPidFile,
			Extra: []string{"/etc/suricata/rules/*.rules"}, URLs: DefaultRuleURLs()},
	}
}

// IsLocal reports whether addr lies in one of c.LocalNetworks.
func (c *Config) IsLocal(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.LocalNetworks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// DeviceName returns the user-given name of the device with MAC address
// mac (any case and separator net.ParseMAC accepts).
func (c *Config) DeviceName(mac string) (string, bool) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", false
	}
	for _, d := range c.Devices {
		if d.MAC == m {
			return d.Name, true
		}
	}
	return "", false
}
