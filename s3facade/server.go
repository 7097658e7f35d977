package s3facade

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/internal/sigv4"
)

// Server is an S3 endpoint over one engine. It is safe for concurrent use;
// several Servers may run in one process. Create it with New, run it with
// Serve, stop it with Shutdown.
type Server struct {
	e        *engine.Engine
	cfg      Config
	log      *slog.Logger
	users    map[string]*User
	owners   ownerTable
	verifier sigv4.Verifier
	srv      *fasthttp.Server
	metrics  *metrics

	idPrefix uint32
	idSeq    atomic.Uint64
	closing  atomic.Bool

	lnMu sync.Mutex                      // guards lns, and closing against Serve's check
	lns  map[*onceCloseListener]struct{} // the listeners of running Serve calls
}

// New returns a Server for e. The engine stays the caller's: Shutdown does
// not close it.
func New(e *engine.Engine, cfg Config) (*Server, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil engine", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	s := &Server{e: e, cfg: c, log: c.Logger, users: make(map[string]*User, len(c.Users)), metrics: newMetrics()}
	for i := range c.Users {
		u := c.Users[i]
		s.users[u.AccessKey] = &u
	}
	s.owners = newOwnerTable(c.Users)
	s.verifier = sigv4.Verifier{Region: c.Region, Service: "s3", MaxSkew: maxSkew, Lookup: s.lookup}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.idPrefix = binary.BigEndian.Uint32(b[:])
	s.srv = &fasthttp.Server{
		Handler:                       s.serve,
		ExpectHandler:                 s.expect,
		ErrorHandler:                  s.transportError,
		Name:                          "Coffer",
		ReadTimeout:                   c.ReadTimeout,
		IdleTimeout:                   c.IdleTimeout,
		ReadBufferSize:                c.MaxHeaderBytes,
		WriteBufferSize:               64 << 10,
		MaxRequestBodySize:            max(c.PrefetchBytes, 1),
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		Concurrency:                   c.Concurrency,
		MaxConnsPerIP:                 c.MaxConnsPerIP,
		SecureErrorLogMessage:         true,
		Logger:                        slogPrinter{c.Logger},
	}
	return s, nil
}

// slogPrinter adapts slog to fasthttp's Logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}

// Serve serves requests on ln until Shutdown; it returns nil after a
// clean Shutdown. With Config.TLSConfig the listener is wrapped in TLS.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLSConfig != nil {
		ln = tls.NewListener(ln, s.cfg.TLSConfig)
	}
	l := &onceCloseListener{Listener: ln}
	s.lnMu.Lock()
	if s.closing.Load() {
		s.lnMu.Unlock()
		l.Close()
		return nil
	}
	if s.lns == nil {
		s.lns = make(map[*onceCloseListener]struct{})
	}
	s.lns[l] = struct{}{}
	s.lnMu.Unlock()
	defer func() {
		s.lnMu.Lock()
		delete(s.lns, l)
		s.lnMu.Unlock()
	}()
	err := s.srv.Serve(l)
	if s.closing.Load() {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, lets in-flight requests finish
// (closing idle keep-alive connections), and returns when they have or
// when ctx ends. Serve calls on this Server then return nil, also one
// that had not yet begun serving when Shutdown started. The engine is
// left open.
func (s *Server) Shutdown(ctx context.Context) error {
	// Closing every listener together with setting closing, before
	// fasthttp looks for listeners, means a Serve that has not yet
	// handed its listener to fasthttp never accepts a connection.
	s.lnMu.Lock()
	s.closing.Store(true)
	for l := range s.lns {
		l.Close()
	}
	s.lnMu.Unlock()
	return s.srv.ShutdownWithContext(ctx)
}

// onceCloseListener closes its listener once; later calls return nil, so
// Shutdown and fasthttp may both close it.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// Handler returns the request handler, for embedding the facade in a
// fasthttp server of the caller's (which must set StreamRequestBody).
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// request is one request being served. It lives only while the handler
// runs; nothing keeps it (or its RequestCtx) afterwards.
type request struct {
	s      *Server
	ctx    *fasthttp.RequestCtx
	id     string
	now    time.Time
	method string
	t      target
	op     *operation
	auth   *authInfo

	body     io.Reader // verified body (set by authenticate)
	bodySize int64     // declared decoded size; -1 unknown
	digest   *digestReader
	chunked  *chunkedReader
	raw      *idleReader
	post     *postForm // POST Object: the form read by authenticate
}

func (r *request) header(name string) string { return string(r.ctx.Request.Header.Peek(name)) }

func (r *request) release() {
	if r.chunked != nil {
		r.chunked.release()
	}
	if r.post != nil {
		r.post.finish(r)
	}
}

// response is what a handler returns; Server.write puts it on the wire.
type response struct {
	status  int
	headers [][2]string
	xml     any       // marshalled as the XML body
	body    io.Reader // streamed body of size bytes (GET)
	size    int64
	noBody  bool // HEAD: Content-Length set, no body
}

func (resp *response) set(name, value string) {
	resp.headers = append(resp.headers, [2]string{name, value})
}

func (s *Server) newRequestID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], s.idPrefix)
	binary.BigEndian.PutUint64(b[4:], s.idSeq.Add(1))
	var out [24]byte
	hex.Encode(out[:], b[:])
	return string(bytes.ToUpper(out[:]))
}

// serve is the fasthttp handler: every request passes here.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	r := &request{s: s, ctx: ctx, id: s.newRequestID(), now: s.cfg.Now(), method: string(ctx.Method())}
	// Header names go out as written: S3 sends x-amz-meta-* names in lower
	// case, and clients read metadata names from them.
	ctx.Response.Header.DisableNormalizing()
	ctx.Response.Header.Set("X-Amz-Request-Id", r.id)
	ctx.Response.Header.Set("X-Amz-Id-2", r.id)
	// The response must reach the client within the write idle timeout;
	// streamed bodies re-arm it as they go.
	_ = ctx.SetWriteDeadline(start.Add(s.cfg.WriteIdleTimeout))
	resp, err := s.handle(r)
	r.release()
	status := s.write(r, resp, err)
	in := int64(0)
	if r.raw != nil {
		in = r.raw.n
	}
	name := "Unknown"
	if r.op != nil {
		name = r.op.name
	}
	s.metrics.observe(name, status, in, time.Since(start))
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request", "id", r.id, "api", name, "method", r.method, "bucket", r.t.bucket,
			"status", status, "bytes_in", in, "duration", time.Since(start))
	}
}

// handle parses, routes, authenticates and runs the handler.
func (s *Server) handle(r *request) (*response, error) {
	h := &r.ctx.Request.Header
	t, err := parseTarget(string(h.RequestURI()), string(h.Host()), s.cfg.Domains)
	if err != nil {
		return nil, err
	}
	r.t = t
	r.op = selectOp(r.method, &r.t, func(name string) bool { return len(h.Peek(name)) > 0 }, s.cfg.Metrics)
	if !r.op.public {
		if err := s.authenticate(r); err != nil {
			return nil, err
		}
		if err := s.authorize(r); err != nil {
			return nil, err
		}
	}
	return r.op.handler(s, r)
}

// expect answers Expect: 100-continue: the request is authenticated from
// its headers before any of its body is read. A refused request gets its
// S3 error and the connection is closed.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	r := &request{s: s, ctx: ctx, id: s.newRequestID(), now: s.cfg.Now(), method: string(ctx.Method())}
	op, err := s.check(r)
	if err == nil && op == opPutObject {
		// Refusals that need only the headers come before the body.
		err = rejectUnsupported(r)
	}
	r.release()
	if err == nil {
		return fasthttp.StatusContinue
	}
	ctx.Response.Header.Set("X-Amz-Request-Id", r.id)
	ctx.Response.Header.Set("X-Amz-Id-2", r.id)
	status := s.write(r, nil, err)
	s.metrics.observe("Expect", status, 0, 0)
	return status
}

// check runs the routing and authentication steps of handle without the
// handler.
func (s *Server) check(r *request) (*operation, error) {
	h := &r.ctx.Request.Header
	t, err := parseTarget(string(h.RequestURI()), string(h.Host()), s.cfg.Domains)
	if err != nil {
		return nil, err
	}
	r.t = t
	r.op = selectOp(r.method, &r.t, func(name string) bool { return len(h.Peek(name)) > 0 }, s.cfg.Metrics)
	if r.op.public {
		return r.op, nil
	}
	if r.op == opPostObject && isFormPost(h) {
		// A browser form is signed inside its body, which the client
		// sends only after 100 Continue: authenticate reads it then.
		return r.op, nil
	}
	if err := s.authenticate(r); err != nil {
		return r.op, err
	}
	return r.op, s.authorize(r)
}

// transportError answers errors fasthttp meets before a handler runs.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	r := &request{s: s, ctx: ctx, id: s.newRequestID(), now: s.cfg.Now(), method: string(ctx.Method())}
	ctx.Response.Header.Set("X-Amz-Request-Id", r.id)
	ctx.Response.Header.Set("X-Amz-Id-2", r.id)
	var code ErrorCode
	var status int
	var tooBig *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &tooBig):
		code, status = CodeRequestHeaderSectionTooLarge, fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		code, status = CodeEntityTooLarge, 0
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code, status = CodeRequestTimeout, fasthttp.StatusRequestTimeout
		} else {
			code, status = CodeInvalidRequest, 0
		}
	}
	e := errorf(code, "")
	s.writeError(r, e, status)
	ctx.SetConnectionClose()
	s.metrics.observe("Transport", ctx.Response.StatusCode(), 0, 0)
}

// write puts a handler's outcome on the wire and returns the status sent.
func (s *Server) write(r *request, resp *response, err error) int {
	if err != nil {
		return s.writeError(r, err, 0)
	}
	ctx := r.ctx
	status := resp.status
	if status == 0 {
		status = fasthttp.StatusOK
	}
	ctx.SetStatusCode(status)
	for _, kv := range resp.headers {
		ctx.Response.Header.Set(kv[0], kv[1])
	}
	switch {
	case resp.xml != nil:
		buf := xmlBufs.Get().(*bytes.Buffer)
		buf.Reset()
		buf.WriteString(xml.Header)
		if err := xml.NewEncoder(buf).Encode(resp.xml); err != nil {
			xmlBufs.Put(buf)
			return s.writeError(r, err, 0)
		}
		ctx.Response.Header.SetContentType("application/xml")
		ctx.SetBody(buf.Bytes())
		xmlBufs.Put(buf)
	case resp.noBody:
		ctx.Response.Header.SetContentLength(int(resp.size))
		ctx.Response.SkipBody = true
	case resp.body != nil:
		ctx.SetBodyStream(&deadlineBody{r: resp.body, conn: ctx.Conn(), idle: s.cfg.WriteIdleTimeout, m: s.metrics}, int(resp.size))
	}
	return status
}

var xmlBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errorXML is S3's error body.
type errorXML struct {
	XMLName    xml.Name `xml:"Error"`
	Code       ErrorCode
	Message    string
	BucketName string `xml:",omitempty"`
	Key        string `xml:",omitempty"`
	Resource   string `xml:",omitempty"`
	Extra      []xmlField
	RequestID  string `xml:"RequestId"`
	HostID     string `xml:"HostId"`
}

type xmlField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// writeError writes err as an S3 error (status overrides the code's when
// non-zero) and returns the status.
func (s *Server) writeError(r *request, err error, status int) int {
	a := classify(err)
	if status == 0 {
		status = a.status
	}
	if a.code == CodeInternalError || a.code == CodeServiceUnavailable || a.code == CodeInsufficientStorage {
		s.log.Warn("request failed", "id", r.id, "method", r.method, "bucket", r.t.bucket, "status", status, "err", err)
	}
	ctx := r.ctx
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusNotModified || r.method == "HEAD" {
		ctx.Response.SkipBody = r.method == "HEAD"
		return status
	}
	body := errorXML{Code: a.code, Message: a.message, BucketName: r.t.bucket, Key: r.t.key, Resource: r.t.path,
		RequestID: r.id, HostID: r.id}
	var fe *Error
	if errors.As(err, &fe) {
		for _, kv := range fe.extra {
			body.Extra = append(body.Extra, xmlField{XMLName: xml.Name{Local: kv[0]}, Value: kv[1]})
		}
	}
	buf := xmlBufs.Get().(*bytes.Buffer)
	buf.Reset()
	buf.WriteString(xml.Header)
	_ = xml.NewEncoder(buf).Encode(body)
	ctx.Response.Header.SetContentType("application/xml")
	ctx.SetBody(buf.Bytes())
	xmlBufs.Put(buf)
	return status
}

// deadlineBody streams a response body, re-arming the connection's write
// deadline as it goes, and closes the source at the end. fasthttp owns it
// after the handler returns; it holds the connection, never the
// RequestCtx.
type deadlineBody struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
	m    *metrics
}

func (d *deadlineBody) Read(p []byte) (int, error) {
	_ = d.conn.SetWriteDeadline(time.Now().Add(d.idle))
	n, err := d.r.Read(p)
	d.m.sent.Add(uint64(n))
	return n, err
}

// WriteTo lets the source write straight into fasthttp's buffered writer.
func (d *deadlineBody) WriteTo(w io.Writer) (int64, error) {
	dw := &deadlineWriter{w: w, conn: d.conn, idle: d.idle}
	var n int64
	var err error
	if wt, ok := d.r.(io.WriterTo); ok {
		n, err = wt.WriteTo(dw)
	} else {
		n, err = io.Copy(dw, d.r)
	}
	d.m.sent.Add(uint64(n))
	return n, err
}

func (d *deadlineBody) Close() error {
	if c, ok := d.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type deadlineWriter struct {
	w     io.Writer
	conn  net.Conn
	idle  time.Duration
	armed time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.armed) > d.idle/8 {
		_ = d.conn.SetWriteDeadline(now.Add(d.idle))
		d.armed = now
	}
	return d.w.Write(p)
}

// ownerID is the canonical user id S3 shows for an access key: a hash, so
// it reveals nothing but is stable.
func ownerID(accessKey string) string {
	sum := sha256.Sum256([]byte("coffer-owner\x00" + accessKey))
	return hex.EncodeToString(sum[:])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
