package archiver

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
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

// TestURLPolicyDialControl: the dial-time check refuses every address that
// is not globally reachable, including IPv4 addresses wrapped in IPv6
// (mapped, NAT64, 6to4, IPv4-compatible, Teredo) and the IANA special-purpose
// blocks, and lets public addresses through.
func TestURLPolicyDialControl(t *testing.T) {
	strict, open := urlPolicy{}, urlPolicy{allowPrivate: true}
	tests := []struct {
		addr string
		kind string // what the refusal names; "" = public, allowed
	}{
		{"127.0.0.1:443", "loopback"},
		{"127.255.255.254:443", "loopback"},
		{"[::1]:443", "loopback"},
		{"10.1.2.3:80", "private"},
		{"172.16.0.1:80", "private"},
		{"192.168.1.1:80", "private"},
		{"100.64.0.1:80", "carrier-grade NAT"},
		{"100.127.255.254:80", "carrier-grade NAT"},
		{"[fd00::1]:443", "unique local"},
		{"169.254.169.254:80", "link-local"}, // cloud metadata
		{"[fe80::1]:443", "link-local"},
		{"[fe80::1%eth0]:443", "link-local"}, // a zone must not hide it
		{"0.0.0.0:80", "unspecified"},
		{"0.1.2.3:80", "unspecified"},
		{"[::]:80", "unspecified"},
		{"198.18.0.1:80", "benchmarking"},
		{"198.19.255.255:80", "benchmarking"},
		{"192.0.0.1:80", "IETF protocol assignments"},
		{"192.0.0.170:80", "IETF protocol assignments"}, // NAT64 discovery
		{"192.0.2.1:80", "documentation"},
		{"198.51.100.7:80", "documentation"},
		{"203.0.113.9:80", "documentation"},
		{"192.88.99.1:80", "6to4 relay"},
		{"240.0.0.1:80", "reserved"},
		{"255.255.255.254:80", "reserved"},
		{"255.255.255.255:80", "broadcast"},
		{"224.0.0.1:80", "multicast"},
		{"239.255.255.250:80", "multicast"},
		{"[ff02::1]:443", "multicast"},
		{"[ff0e::1]:443", "multicast"},
		{"[fec0::1]:443", "site-local"},
		{"[100::1]:443", "discard-only"},
		{"[2001:db8::1]:443", "documentation"},
		{"[3fff::1]:443", "documentation"},
		{"[2001:2::1]:443", "IETF protocol assignments"}, // benchmarking
		{"[5f00::1]:443", "SRv6"},
		{"[4000::1]:443", "outside IPv6 global unicast"},

		// IPv4 inside IPv6.
		{"[::ffff:127.0.0.1]:443", "loopback"},
		{"[::ffff:10.0.0.1]:443", "private"},
		{"[::ffff:198.18.0.1]:443", "benchmarking"},
		{"[64:ff9b::7f00:1]:443", "loopback (127.0.0.1 inside a NAT64 address)"},
		{"[64:ff9b::a9fe:a9fe]:443", "link-local (169.254.169.254 inside a NAT64 address)"},
		{"[64:ff9b::c612:1]:443", "benchmarking (198.18.0.1 inside"},
		{"[64:ff9b:1::7f00:1]:443", "local-use IPv4/IPv6 translation"},
		{"[64:ff9b:1::808:808]:443", "local-use IPv4/IPv6 translation"},
		{"[2002:7f00:1::1]:443", "6to4 tunnel address (embedding 127.0.0.1)"},
		{"[2002:808:808::1]:443", "6to4 tunnel address (embedding 8.8.8.8)"},
		{"[::127.0.0.1]:443", "IPv4-compatible address (embedding 127.0.0.1)"},
		{"[::10.0.0.1]:443", "IPv4-compatible address (embedding 10.0.0.1)"},
		// Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted.
		{"[2001:0:4136:e378:8000:63bf:80ff:fffe]:443", "Teredo tunnel address (embedding 127.0.0.1)"},

		// Public: the internet, NAT64 of a public address, and the anycast
		// services the registries mark globally reachable.
		{"8.8.8.8:443", ""},
		{"1.1.1.1:443", ""},
		{"100.63.255.255:443", ""},
		{"100.128.0.0:443", ""},
		{"198.17.255.255:443", ""},
		{"198.20.0.0:443", ""},
		{"192.0.0.9:443", ""},
		{"192.0.0.10:443", ""},
		{"223.255.255.255:443", ""},
		{"[2001:4860:4860::8888]:443", ""},
		{"[2606:4700:4700::1111]:443", ""},
		{"[64:ff9b::808:808]:443", ""},
		{"[::ffff:8.8.8.8]:443", ""},
		{"[2001:1::1]:443", ""},
		{"[2001:4:112::1]:443", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := privateKind(netip.MustParseAddrPort(tt.addr).Addr())
			if (got == "") != (tt.kind == "") || !strings.Contains(got, tt.kind) {
				t.Errorf("privateKind(%s) = %q, want %q", tt.addr, got, tt.kind)
			}
			err := strict.control("tcp", tt.addr, nil)
			var pe *policyError
			if tt.kind == "" && err != nil || tt.kind != "" && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tt.kind)) {
				t.Errorf("control(%s) = %v, want refused=%v naming %q", tt.addr, err, tt.kind != "", tt.kind)
			}
			if err := open.control("tcp", tt.addr, nil); err != nil {
				t.Errorf("with private networks allowed, control(%s) = %v", tt.addr, err)
			}
		})
	}
}

// TestPolicyDialerRefusesNAT64Loopback dials through the downloader's
// dialer: 64:ff9b::7f00:1 is 127.0.0.1 behind a NAT64 translator, and the
// connection is refused by the policy before any packet leaves, with the
// embedded address named.
func TestPolicyDialerRefusesNAT64Loopback(t *testing.T) {
	for _, addr := range []string{"[64:ff9b::7f00:1]:443", "[::ffff:127.0.0.1]:443", "[2002:7f00:1::1]:443"} {
		conn, err := urlPolicy{}.dialer().DialContext(t.Context(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Fatalf("dial %s succeeded, want it refused", addr)
		}
		var pe *policyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("dial %s = %v, want a policy refusal naming 127.0.0.1", addr, err)
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
