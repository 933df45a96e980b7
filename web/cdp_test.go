package web_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// A minimal Chrome DevTools Protocol client, enough to drive a page the way
// a user would: navigate, type, press keys, click, read the DOM, take a
// screenshot. It talks to Debian's chromium over a WebSocket
// (golang.org/x/net/websocket, already in the module graph), so the test
// needs no browser-automation dependency.

const chromiumPath = "/usr/bin/chromium"

// needChromium returns the chromium binary, or skips the test without it;
// under CI=true a missing browser fails the test instead, so that CI cannot
// pass without the browser test having run (scripts/ensure-chromium.sh
// installs it).
func needChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: run scripts/ensure-chromium.sh (make test does)", chromiumPath)
		}
		t.Skipf("%s is missing: run scripts/ensure-chromium.sh to run the browser test", chromiumPath)
	}
	return chromiumPath
}

// browserPage is one chromium tab under remote control.
type browserPage struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	next int64
	wait map[int64]chan cdpMessage
}

type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params any             `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startChromium launches a headless chromium with a throwaway profile and
// connects to its first tab. The browser is stopped when the test ends.
func startChromium(t *testing.T, binary string) *browserPage {
	t.Helper()
	cmd := exec.Command(binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--no-default-browser-check", "--mute-audio", "--hide-scrollbars", "--password-store=basic",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1",
		"--window-size=1280,960", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that its helpers stop with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the process group this test started
		cmd.Wait()
	})

	// chromium prints its DevTools address on stderr once it listens.
	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
			if log.Len() < 4096 {
				log.WriteString(sc.Text() + "\n")
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-t.Context().Done():
		t.Fatalf("chromium never listened for DevTools: %s", log.String())
	}

	// The first tab's own WebSocket is listed by the browser's HTTP endpoint.
	host := strings.TrimPrefix(browserURL, "ws://")
	host = host[:strings.Index(host, "/")]
	var targets []struct{ Type, WebSocketDebuggerURL string }
	resp, err := http.Get("http://" + host + "/json/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatalf("chromium's target list: %v", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			return connectPage(t, tg.WebSocketDebuggerURL)
		}
	}
	t.Fatalf("chromium has no page target: %+v", targets)
	return nil
}

func connectPage(t *testing.T, wsURL string) *browserPage {
	t.Helper()
	ws, err := websocket.Dial(wsURL, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("connect to the chromium tab: %v", err)
	}
	ws.MaxPayloadBytes = 64 << 20 // screenshots
	t.Cleanup(func() { ws.Close() })
	p := &browserPage{t: t, ws: ws, wait: map[int64]chan cdpMessage{}}
	go p.read()
	return p
}

// read delivers replies to their callers; events are not needed.
func (p *browserPage) read() {
	for {
		var m cdpMessage
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			p.mu.Lock()
			for id, ch := range p.wait {
				close(ch)
				delete(p.wait, id)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		ch := p.wait[m.ID]
		delete(p.wait, m.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends a DevTools command and decodes its result into result (if not
// nil). A protocol error fails the test.
func (p *browserPage) call(method string, params any, result any) {
	p.t.Helper()
	raw, err := p.send(method, params)
	if err != nil {
		p.t.Fatal(err)
	}
	if result != nil {
		if err := json.Unmarshal(raw, result); err != nil {
			p.t.Fatalf("%s: decode result: %v", method, err)
		}
	}
}

// send sends a DevTools command and returns its raw result.
func (p *browserPage) send(method string, params any) (json.RawMessage, error) {
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan cdpMessage, 1)
	p.wait[id] = ch
	p.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(p.ws, cdpMessage{ID: id, Method: method, Params: params}); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: chromium closed the connection", method)
		case m.Error != nil:
			return nil, fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		return m.Result, nil
	case <-p.t.Context().Done():
		return nil, fmt.Errorf("%s: no reply before the test's deadline", method)
	}
}

// evaluate runs a JavaScript expression in the page (awaiting a promise)
// and returns its value as JSON.
func (p *browserPage) evaluate(expr string) (json.RawMessage, error) {
	raw, err := p.send("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return nil, err
	}
	var r struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	if r.ExceptionDetails != nil {
		return nil, fmt.Errorf("evaluate %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value, nil
}

// eval is evaluate that decodes the value into result; an error (a thrown
// exception included) fails the test.
func (p *browserPage) eval(expr string, result any) {
	p.t.Helper()
	v, err := p.evaluate(expr)
	if err != nil {
		p.t.Fatal(err)
	}
	if result != nil && len(v) > 0 {
		if err := json.Unmarshal(v, result); err != nil {
			p.t.Fatalf("evaluate %s: decode %s: %v", expr, v, err)
		}
	}
}

// waitUntil polls a JavaScript condition until it holds, in small steps,
// for as long as the test may run. Errors while polling are retried: an
// evaluation racing a navigation loses its page.
func (p *browserPage) waitUntil(what, cond string) {
	p.t.Helper()
	var last error
	for {
		v, err := p.evaluate("!!(" + cond + ")")
		if err == nil && string(v) == "true" {
			return
		}
		last = err
		select {
		case <-p.t.Context().Done():
			p.t.Fatalf("waiting for %s: the test's deadline came first (last error: %v)", what, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *browserPage) navigate(url string) {
	p.t.Helper()
	var r struct{ ErrorText string }
	p.call("Page.navigate", map[string]any{"url": url}, &r)
	if r.ErrorText != "" {
		p.t.Fatalf("navigate to %s: %s", url, r.ErrorText)
	}
}

// typeText types into the focused element, as a keyboard would.
func (p *browserPage) typeText(s string) {
	p.t.Helper()
	p.call("Input.insertText", map[string]any{"text": s}, nil)
}

// pressEnter presses and releases the Enter key.
func (p *browserPage) pressEnter() {
	p.t.Helper()
	key := map[string]any{"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}
	key["type"] = "keyDown"
	p.call("Input.dispatchKeyEvent", key, nil)
	p.call("Input.dispatchKeyEvent", map[string]any{"type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}, nil)
}

// click clicks with the mouse at the middle of the element selector finds.
func (p *browserPage) click(selector string) {
	p.t.Helper()
	var box struct{ X, Y float64 }
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect(); return {x: r.x + r.width/2, y: r.y + r.height/2}; })()`, selector), &box)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		p.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}, nil)
	}
}

// screenshot captures the viewport as PNG and writes it to path.
func (p *browserPage) screenshot(path string) {
	p.t.Helper()
	var r struct{ Data string }
	p.call("Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		p.t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
