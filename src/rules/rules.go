// Package rules reads Suricata rule files to explain alerts: the rule's
// text by signature id, its message, classtype, references and metadata,
// the classification and reference configs that give those meaning, and
// it keeps the rules up to date through suricata-update.
//
// It parses only as much of Suricata's rule syntax as an explanation
// needs: the action, the header and the options msg, sid, gid, rev,
// classtype, priority, reference and metadata. A Catalog indexes rule
// files by (gid, sid) and reads the line of a rule only when asked, so
// that ET Open's tens of thousands of rules cost a small index in memory,
// not their text.
package rules

// Rule is one parsed rule.
type Rule struct {
	// Enabled is false for a rule commented out with "#" (suricata-update
	// writes disabled rules that way).
	Enabled bool
	Action  string // alert, drop, pass, reject, …
	// Header is the part between the action and the options: protocol,
	// addresses, ports and direction.
	Header     string
	GID, SID   uint32
	Rev        uint32
	Msg        string
	Classtype  string
	Priority   int // 0 when the rule sets none (the classtype's applies)
	References []Reference
	// Metadata maps keys to values ("created_at" → ["2024_01_01"]).
	Metadata map[string][]string
	// Text is the rule as written (without a leading "#").
	Text string
	// File and Line locate the rule.
	File string
	Line int
}

// Reference is one reference option, "type,value", with the URL the
// reference config gives it ("" when it has none).
type Reference struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	URL   string `json:"url,omitempty"`
}

// Class is one classification: config classification: name,description,priority.
type Class struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
}

// SeverityName says an alert severity (Suricata's priority) in words:
// 1 high, 2 medium, 3 low, 4 and above informational.
func SeverityName(severity int) string {
	switch {
	case severity <= 0:
		return "unknown"
	case severity == 1:
		return "high"
	case severity == 2:
		return "medium"
	case severity == 3:
		return "low"
	}
	return "informational"
}

// IsEngineSID reports whether a signature id is one of Suricata's own
// protocol-anomaly rules (decoder, stream and app-layer events), which
// Suricata ships in 2200000-2299999.
func IsEngineSID(sid uint32) bool { return sid >= 2200000 && sid <= 2299999 }
