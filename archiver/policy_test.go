package archiver

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

func TestURLPolicyCheck(t *testing.T) {
	p := newURLPolicy(Options{AllowedHosts: []string{" TOS.Example.com. ", "*.volcvideo.com"}})
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://tos.example.com/v.mp4?X-Tos-Signature=1", true},
		{"https://TOS.EXAMPLE.COM./v.mp4", true},
		{"https://a.b.volcvideo.com/v.mp4", true},
		{"https://volcvideo.com/v.mp4", false}, // "*." is for names below it
		{"https://evilvolcvideo.com/v.mp4", false},
		{"https://tos.example.com.evil.net/v.mp4", false},
		{"https://other.example.com/v.mp4", false},
		{"http://tos.example.com/v.mp4", false}, // http is off
		{"ftp://tos.example.com/v.mp4", false},
		{"https://user:pw@tos.example.com/v.mp4", false},
		{"https:///v.mp4", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		err = p.check(u)
		var pe *policyError
		if (err == nil) != tt.ok || (err != nil && !errors.As(err, &pe)) {
			t.Errorf("check(%s) = %v, want ok=%v (and a policyError when refused)", tt.url, err, tt.ok)
		}
	}
	if err := (urlPolicy{}).check(&url.URL{Scheme: "https", Host: "anything.example"}); err != nil {
		t.Errorf("an empty allow-list refused a host: %v", err)
	}
}

func TestURLPolicyDialControl(t *testing.T) {
	strict, open := urlPolicy{}, urlPolicy{allowPrivate: true}
	tests := []struct {
		addr string
		kind string // "" = public
	}{
		{"127.0.0.1:443", "loopback"},
		{"[::1]:443", "loopback"},
		{"[::ffff:127.0.0.1]:443", "loopback"},
		{"10.1.2.3:80", "private"},
		{"172.16.0.1:80", "private"},
		{"192.168.1.1:80", "private"},
		{"100.64.0.1:80", "private"},
		{"[fd00::1]:443", "private"},
		{"169.254.169.254:80", "link-local"}, // cloud metadata
		{"[fe80::1]:443", "link-local"},
		{"0.0.0.0:80", "unspecified"},
		{"[::]:80", "unspecified"},
		{"8.8.8.8:443", ""},
		{"[2001:4860:4860::8888]:443", ""},
	}
	for _, tt := range tests {
		if got := privateKind(netip.MustParseAddrPort(tt.addr).Addr()); got != tt.kind {
			t.Errorf("privateKind(%s) = %q, want %q", tt.addr, got, tt.kind)
		}
		err := strict.control("tcp", tt.addr, nil)
		if (err == nil) != (tt.kind == "") {
			t.Errorf("control(%s) = %v, want refused=%v", tt.addr, err, tt.kind != "")
		}
		if err := open.control("tcp", tt.addr, nil); err != nil {
			t.Errorf("with private networks allowed, control(%s) = %v", tt.addr, err)
		}
	}
}

func TestShortSide(t *testing.T) {
	for res, want := range map[string]int{"720p": 720, "1080P": 1080, " 480p ": 480, "2k": 1440, "4K": 2160,
		"adaptive": 0, "p": 0, "-5p": 0, "": 0} {
		if got, ok := shortSide(res); got != want && ok || (want == 0) == ok {
			t.Errorf("shortSide(%q) = %d, %v; want %d", res, got, ok, want)
		}
	}
}
