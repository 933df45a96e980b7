package simulator

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// handleMedia serves the videos behind signed URLs, GET and HEAD on
// /tos/{id}/{kind}.mp4 and /vod/{id}/{kind}.mp4, like an object store: it
// checks the signature and the expiry, then streams the generated file with
// an exact Content-Length. http.ServeContent does the HTTP work, so Range
// requests (206) work and a client can resume a cut download.
func (s *Server) handleMedia(w http.ResponseWriter, r *http.Request) {
	f := s.rollFault(true)
	if f.writeMedia(w) {
		return
	}
	scheme, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if d := s.verify(scheme, r.URL.Path, r.URL.Query(), s.now()); d != nil {
		writeXMLError(w, r, d)
		return
	}
	t := s.task(r.PathValue("id"))
	v := t.video(scheme, r.PathValue("file"))
	if v == nil {
		writeXMLError(w, r, errNoKey)
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(f.bodyWriter(r.Context(), w), r, "", t.finishAt, newVideoReader(v))
}

// video returns the video of t served under scheme and file name, or nil.
// A nil task has no videos.
func (t *task) video(scheme, file string) *video {
	if t == nil {
		return nil
	}
	for _, v := range t.videos {
		if v.scheme == scheme && v.kind+".mp4" == file {
			return v
		}
	}
	return nil
}

// xmlErrorBody is the S3/TOS error document.
type xmlErrorBody struct {
	XMLName  xml.Name `xml:"Error"`
	Code     string   `xml:"Code"`
	Message  string   `xml:"Message"`
	Resource string   `xml:"Resource,omitempty"`
}

// xmlError renders d as the stores do; resource may be empty.
func xmlError(d *denial, resource string) string {
	b, err := xml.Marshal(xmlErrorBody{Code: d.code, Message: d.message, Resource: resource})
	if err != nil {
		return "" // cannot happen: the struct has only strings
	}
	return xml.Header + string(b) + "\n"
}

func writeXMLError(w http.ResponseWriter, r *http.Request, d *denial) {
	writeText(w, d.status, "application/xml", xmlError(d, r.URL.Path))
}
