package s3facade

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cofferdb/coffer/engine"
)

const (
	testAccess = "AKIDCOFFERTEST"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
)

// testServer is a facade over a real engine on temporary drives, serving
// on 127.0.0.1.
type testServer struct {
	t     testing.TB
	e     *engine.Engine
	s     *Server
	addr  string
	url   string
	tls   bool
	certs *x509.CertPool
	dirs  []string
}

type serverOpt func(*Config, *engine.Options)

func withTLS() serverOpt { return func(c *Config, _ *engine.Options) { c.TLSConfig = &tls.Config{} } }

func startServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	eo := &engine.Options{Drives: dirs, Sync: engine.SyncNone}
	cfg := Config{Users: []User{{AccessKey: testAccess, SecretKey: testSecret}}, Metrics: true}
	for _, o := range opts {
		o(&cfg, eo)
	}
	e, err := engine.Open(dirs[0], eo)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, dirs: dirs}
	if cfg.TLSConfig != nil {
		cert, pool := selfSigned(t)
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ts.tls, ts.certs = true, pool
	}
	s, err := New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.s, ts.addr = s, ln.Addr().String()
	scheme := "http://"
	if ts.tls {
		scheme = "https://"
	}
	ts.url = scheme + ts.addr
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		// fasthttp counts a connection that never sent a request as idle
		// only after 5 s, and Go's client opens such connections under
		// concurrent requests: give Shutdown more than that.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("engine close: %v", err)
		}
	})
	return ts
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func (ts *testServer) httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ts.tls {
		tr.TLSClientConfig = &tls.Config{RootCAs: ts.certs}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// awsClient returns an aws-sdk-go-v2 client with the SDK's default
// checksum behaviour, no retries.
func (ts *testServer) awsClient(opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(ts.url),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret}, nil
		}),
		HTTPClient: ts.httpClient(),
		Retryer:    aws.NopRetryer{},
	}, opts...)
}

func (ts *testServer) minioClient() *minio.Client {
	c, err := minio.New(ts.addr, &minio.Options{
		Creds:     miniocreds.NewStaticV4(testAccess, testSecret, ""),
		Secure:    ts.tls,
		Region:    testRegion,
		Transport: ts.httpClient().Transport,
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}
