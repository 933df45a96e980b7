package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is Go's default limit, kept when the caller set no policy.
const maxRedirects = 10

// redirectError is why a redirect was refused. It quotes the target
// redacted: the Location may carry a signed query.
type redirectError struct{ to string }

func (e *redirectError) Error() string {
	return "gateway redirected to another host " + RedactURL(e.to) + "; refusing to send the API key"
}

// sameOrigin is a CheckRedirect policy that follows a redirect only to the
// origin (scheme, host, port) the client was configured with, then applies
// next, or Go's default limit. Go keeps the Authorization header on a
// redirect to the same host or a subdomain of it, so the default policy
// would hand the key to any host a gateway, or whoever controls its
// replies, names.
func sameOrigin(want string, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if origin(req.URL) != want {
			return &redirectError{to: req.URL.String()}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// origin is scheme://host:port, lower-cased, with the scheme's default port
// written out, so that https://H.example and https://h.example:443 match.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
