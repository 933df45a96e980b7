package server

import (
	"log/slog"
	"net"
	"net/http"
)

// ServeOn is Listen on a listener the test bound itself, so that a test can
// give the server a configured address whose name does not resolve.
func ServeOn(ln net.Listener, addr string, h http.Handler, log *slog.Logger) *Server {
	return newServer(ln, addr, h, log)
}
