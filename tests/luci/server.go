package luci

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ScriptName is where LuCI's dispatcher answers, as on a router.
const ScriptName = "/cgi-bin/luci"

// MenuNode is one entry of a LuCI menu.d file.
type MenuNode struct {
	Title  string `json:"title"`
	Order  int    `json:"order"`
	Action struct {
		Type string `json:"type"`
		Path string `json:"path"`
	} `json:"action"`
	Depends struct {
		ACL []string `json:"acl"`
	} `json:"depends"`
}

// LoadMenu reads menu.d JSON files into one map by path.
func LoadMenu(files ...string) (map[string]MenuNode, error) {
	menu := map[string]MenuNode{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read menu: %w", err)
		}
		var nodes map[string]MenuNode
		if err := json.Unmarshal(data, &nodes); err != nil {
			return nil, fmt.Errorf("parse menu %s: %w", f, err)
		}
		for k, v := range nodes {
			menu[k] = v
		}
	}
	return menu, nil
}

// Children returns the direct children of path, by order.
func Children(menu map[string]MenuNode, path string) []string {
	var out []string
	for k := range menu {
		if strings.HasPrefix(k, path+"/") && !strings.Contains(k[len(path)+1:], "/") {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := menu[out[i]], menu[out[j]]
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return out[i] < out[j]
	})
	return out
}

// Server serves what uhttpd and LuCI serve on a router: /ubus, the
// static resources (the app's htdocs over the stand-in's) and one page per
// menu entry that loads its view.
type Server struct {
	RPC *RPC
	// Resources are directories holding luci-static/resources, searched
	// in order.
	Resources []string
	Menu      map[string]MenuNode
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} - LuCI</title>
<link rel="stylesheet" href="/luci-static/resources/standin/theme.css">
<script src="/luci-static/resources/luci.js"></script>
<script>L = new LuCI({{.Env}});</script>
</head>
<body data-page="{{.Page}}">
<header class="standin-header"><span class="brand">OpenWrt</span> <span class="standin-note">LuCI stand-in</span></header>
<div id="maincontent" class="container">
<ul class="cbi-tabmenu standin-menu">{{range .Tabs}}
<li class="{{if .Active}}cbi-tab{{else}}cbi-tab-disabled{{end}}"><a href="{{.URL}}">{{.Title}}</a></li>{{end}}
</ul>
<div id="view"><div class="spinning">Loading view…</div></div>
</div>
<script>L.require('ui').then(function(ui) { ui.instantiateView({{.View}}); });</script>
</body>
</html>
`))

type tab struct {
	Title, URL string
	Active     bool
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/ubus" || strings.HasPrefix(p, "/ubus/"):
		s.RPC.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/luci-static/"):
		s.static(w, r)
	case p == "/" || p == ScriptName || p == ScriptName+"/":
		http.Redirect(w, r, ScriptName+"/admin/status/pakon", http.StatusFound)
	case strings.HasPrefix(p, ScriptName+"/"):
		s.page(w, r, strings.Trim(strings.TrimPrefix(p, ScriptName), "/"))
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	rel := filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))
	if strings.Contains(rel, "..") {
		http.NotFound(w, r)
		return
	}
	for _, dir := range s.Resources {
		f := filepath.Join(dir, rel)
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFile(w, r, f)
			return
		}
	}
	http.NotFound(w, r)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, path string) {
	node, ok := s.Menu[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if node.Action.Type == "firstchild" {
		kids := Children(s.Menu, path)
		if len(kids) == 0 {
			http.NotFound(w, r)
			return
		}
		target := ScriptName + "/" + kids[0]
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	if node.Action.Type != "view" {
		http.Error(w, "the stand-in serves view actions only", http.StatusNotImplemented)
		return
	}
	parent := path[:strings.LastIndex(path, "/")]
	var tabs []tab
	for _, k := range Children(s.Menu, parent) {
		tabs = append(tabs, tab{Title: s.Menu[k].Title, URL: ScriptName + "/" + k, Active: k == path})
	}
	env := map[string]any{
		"sessionid":    s.RPC.Session,
		"token":        "standin-token",
		"base_url":     "/luci-static/resources",
		"resource":     "/luci-static/resources",
		"media":        "/luci-static/bootstrap",
		"scriptname":   ScriptName,
		"requestpath":  strings.Split(path, "/"),
		"dispatchpath": strings.Split(path, "/"),
		"pollinterval": 5,
		"rpctimeout":   20,
		"ubuspath":     "/ubus/",
		"nodespec":     node,
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	page.Execute(w, map[string]any{
		"Title": node.Title, "Env": template.JS(envJSON), "Page": strings.ReplaceAll(path, "/", "-"),
		"Tabs": tabs, "View": node.Action.Path,
	})
}
