package lists

import "testing"

// The lists shipped in lists/ and installed to /usr/share/pakon/.
var (
	shippedReplace = []string{"../../lists/domains_replace"}
	shippedIgnore  = []string{"../../lists/domains_ignore"}
)

func TestShippedLists(t *testing.T) {
	l, warnings, err := Load(shippedReplace, shippedIgnore)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %v", w)
	}
	if r, i := l.Len(); r < 100 || i < 100 {
		t.Errorf("Len() = %d, %d; want at least 100 entries each", r, i)
	}

	display := []struct{ observed, want string }{
		{"scontent-prg1-1.xx.fbcdn.net", "facebook.com"},
		{"rr3---sn-2gb7sn7k.googlevideo.com", "youtube.com"},
		{"i.ytimg.com", "youtube.com"},
		{"yt3.ggpht.com", "youtube.com"},
		{"lh3.ggpht.com", "google.com"},
		{"www.google.cz", "google.com"},
		{"notgoogle.com", "notgoogle.com"},
		{"scontent.cdninstagram.com", "instagram.com"},
		{"mmg.whatsapp.net", "whatsapp.com"},
		{"ipv4-c001-prg001-ix.1.oca.nflxvideo.net", "netflix.com"},
		{"video-edge-c2a3b4.fra05.abs.hls.ttvnw.net", "twitch.tv"},
		{"static-cdn.jtvnw.net", "twitch.tv"},
		{"pbs.twimg.com", "x.com"},
		{"v16-webapp.tiktok.com", "tiktok.com"},
		{"api16-normal-c-useast1a.tiktokv.com", "tiktok.com"},
		{"i.redd.it", "reddit.com"},
		{"steamcdn-a.akamaihd.net", "steampowered.com"},
		{"other-a.akamaihd.net", "other-a.akamaihd.net"},
		{"www.amazon.de", "amazon.com"},
		{"atv-ps-eu.primevideo.com", "primevideo.com"},
		{"is1-ssl.mzstatic.com", "apple.com"},
		{"d.seznam.cz", "seznam.cz"},
		{"192.0.2.1", "192.0.2.1"},
	}
	for _, tt := range display {
		if got := l.Display(tt.observed); got != tt.want {
			t.Errorf("Display(%q) = %q, want %q", tt.observed, got, tt.want)
		}
	}

	ignored := []struct {
		observed string
		want     bool
	}{
		{"securepubads.g.doubleclick.net", true},
		{"r3.o.lencr.org", true},
		{"connectivitycheck.gstatic.com", true},
		{"www.gstatic.com", false},
		{"0.openwrt.pool.ntp.org", true},
		{"v10.events.data.microsoft.com", true},
		{"d1a2b3c4.cloudfront.net", true},
		{"www.google.com", false},
		{"www.youtube.com", false},
		{"fbcdn-video-a.akamaihd.net", false},
	}
	for _, tt := range ignored {
		if got := l.Ignored(tt.observed); got != tt.want {
			t.Errorf("Ignored(%q) = %v, want %v", tt.observed, got, tt.want)
		}
	}

	// A merged service must not be hidden wholesale, and a name that is
	// merged must not be hidden by an infrastructure entry by accident:
	// the shipped files have to agree with each other.
	for _, m := range []map[string]string{l.replace.suffix, l.replace.exact, l.replace.wild} {
		for pattern, target := range m {
			if target != keep && l.ignored(target) {
				t.Errorf("replacement %q (of %q) is ignored", target, pattern)
			}
			if l.ignored(pattern) {
				t.Errorf("replace pattern %q is ignored", pattern)
			}
		}
	}
}
