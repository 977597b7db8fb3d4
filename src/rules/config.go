package rules

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// ParseClassifications reads a classification.config: lines
// "config classification: name,description,priority". Malformed lines are
// skipped.
func ParseClassifications(r io.Reader) (map[string]Class, error) {
	out := map[string]Class{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := configValue(sc.Text(), "classification")
		if !ok {
			continue
		}
		parts := strings.Split(v, ",")
		if len(parts) < 3 {
			continue
		}
		prio, err := strconv.Atoi(strings.TrimSpace(parts[len(parts)-1]))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(parts[0])
		out[name] = Class{Name: name, Description: strings.TrimSpace(strings.Join(parts[1:len(parts)-1], ",")), Priority: prio}
	}
	return out, sc.Err()
}

// ParseReferences reads a reference.config: lines
// "config reference: type url-prefix". Types are matched without case.
func ParseReferences(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := configValue(sc.Text(), "reference")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 {
			continue
		}
		out[strings.ToLower(f[0])] = f[1]
	}
	return out, sc.Err()
}

func configValue(line, kind string) (string, bool) {
	s := strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(s, "config ")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), kind)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), ":")
	return strings.TrimSpace(rest), ok
}

// ReferenceURL makes a reference's link from the reference config's
// prefixes. A "url" reference without a scheme gets "http://" as Suricata
// documents; a value that is a URL already is kept.
func ReferenceURL(prefixes map[string]string, typ, value string) string {
	if strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://") {
		return value
	}
	if p, ok := prefixes[strings.ToLower(typ)]; ok {
		return p + value
	}
	if strings.EqualFold(typ, "url") {
		return "http://" + value
	}
	return ""
}
