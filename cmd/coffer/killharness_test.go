//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// This file runs `coffer serve` in a child process: the test binary
// re-executes itself with envChild set, and TestMain hands the child's
// arguments to run. The parent owns the child (it starts it, kills it by
// PID and waits for it); nothing else signals it.

const (
	envChild     = "COFFER_KILLTEST_CHILD"
	envChildArgs = "COFFER_KILLTEST_ARGS"

	ktUser   = "killtestroot"
	ktPass   = "killtest-root-password-0123456789"
	ktBucket = "kill"
	ktKMSKey = "alias/killtest"
	// ktRootKey seals the built-in keyring (name:base64 of 32 bytes).
	ktRootKey = "killtest:S2lsbFRlc3RSb290S2V5MDEyMzQ1Njc4OTAxMjM0NTY="
)

// TestMain runs the coffer command when the test binary is started as a
// child server by the process-level fault tests, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain is main() of the child: run with the arguments the parent
// passed in envChildArgs, stopped gracefully by SIGTERM.
func childMain() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envChildArgs)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "coffer child: bad", envChildArgs, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "coffer:", err)
		return 1
	}
	return 0
}

// fleet is a set of drive folders and the child servers run on them, one
// at a time. It belongs to one test goroutine.
type fleet struct {
	t      *testing.T
	root   string
	drives []string
	starts int
}

// newFleet makes n drive folders under t.TempDir, sets the credentials
// and keyring root key in the environment (children inherit them; the
// in-process maintenance commands read them), and creates the KMS key
// ktKMSKey in the built-in keyring.
func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	t.Setenv("COFFER_ROOT_USER", ktUser)
	t.Setenv("COFFER_ROOT_PASSWORD", ktPass)
	t.Setenv("COFFER_KMS_ROOT_KEY", ktRootKey)
	t.Setenv("COFFER_KMS_ROOT_KEY_FILE", "")
	f := &fleet{t: t, root: t.TempDir()}
	for i := range n {
		d := filepath.Join(f.root, fmt.Sprintf("drive%d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		f.drives = append(f.drives, d)
	}
	if out, err := f.runCmd("kms", "create-key", "--alias", ktKMSKey, "--data", f.drives[0]); err != nil {
		t.Fatalf("kms create-key: %v\n%s", err, out)
	}
	return f
}

// runCmd runs a coffer command in this process (the maintenance commands
// need the server stopped) and returns its stdout and stderr.
func (f *fleet) runCmd(args ...string) (string, error) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := run(ctx, args, &out, &errb)
	return out.String() + errb.String(), err
}

// offline returns the arguments of a maintenance command on the fleet's
// store: the parity serve was given (the store records it; giving it
// again checks that it agrees) and the drive folders.
func (f *fleet) offline(cmd string) []string {
	return append([]string{cmd, "--parity", "2"}, f.drives...)
}

// child is one `coffer serve` process. It belongs to the test goroutine
// that launched it; a reaper goroutine waits for the process, sets waitErr
// and then closes done.
type child struct {
	cmd       *exec.Cmd
	pid       int
	addr      string // host:port, known once waitReady returned nil
	readyFile string
	logPath   string
	done      chan struct{} // closed once the process is reaped
	waitErr   error         // valid after done is closed
}

// launch starts a child server without waiting for it to serve.
func (f *fleet) launch() *child {
	f.t.Helper()
	f.starts++
	ready := filepath.Join(f.root, fmt.Sprintf("ready-%d", f.starts))
	logPath := filepath.Join(f.root, fmt.Sprintf("child-%d.log", f.starts))
	args := append([]string{"serve", "--address", "127.0.0.1:0", "--ready-file", ready, "--parity", "2",
		"--insecure-ssec-loopback", "--log-level", "warn", "--shutdown-timeout", "30s"}, f.drives...)
	if extra := os.Getenv("COFFER_KILLTEST_SERVE_FLAGS"); extra != "" {
		args = append(args[:1], append(strings.Fields(extra), args[1:]...)...)
	}
	aj, _ := json.Marshal(args)
	logf, err := os.Create(logPath)
	if err != nil {
		f.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envChildArgs+"="+string(aj))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The child dies with the test process if the test is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, readyFile: ready, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c
}

// start launches a child and waits until /health/ready answers 200.
func (f *fleet) start() *child {
	f.t.Helper()
	c := f.launch()
	if err := c.waitReady(); err != nil {
		c.kill()
		f.t.Fatalf("child server did not start: %v\n%s", err, c.logTail())
	}
	return c
}

// waitReady waits (at most two minutes) for the ready file and a 200 from
// /health/ready.
func (c *child) waitReady() error {
	deadline := time.Now().Add(2 * time.Minute)
	for ; ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-c.done:
			return fmt.Errorf("exited: %v", c.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("no ready file after 2 minutes")
		}
		b, err := os.ReadFile(c.readyFile)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			c.addr = strings.TrimSpace(string(b))
			break
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for ; ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("/health/ready did not answer 200 within 2 minutes")
		}
		resp, err := hc.Get("http://" + c.addr + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// kill sends SIGKILL to the child (by the PID this test started) and
// reaps it.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(c.pid, syscall.SIGKILL)
	<-c.done
}

// stop sends SIGTERM and waits for a clean exit.
func (c *child) stop() error {
	_ = syscall.Kill(c.pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(2 * time.Minute):
		c.kill()
		return errors.New("did not stop within 2 minutes of SIGTERM")
	}
	return c.waitErr
}

// logProblems returns the lines of the child's output that show a panic,
// a Go fatal error or a data race.
func (c *child) logProblems() []string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "DATA RACE") ||
			strings.Contains(l, "goroutine ") && strings.Contains(l, "[running]") {
			out = append(out, l)
		}
	}
	return out
}

// logErrors returns the first n lines of the child's output logged at
// level ERROR, each cut to 1000 bytes.
func (c *child) logErrors(n int) string {
	b, _ := os.ReadFile(c.logPath)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if len(out) < n && strings.Contains(l, "level=ERROR") {
			out = append(out, l[:min(len(l), 1000)])
		}
	}
	return strings.Join(out, "\n")
}

// logTail returns the last 4 KiB of the child's output.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// checkLog fails the test if the child's output shows a panic, a fatal
// error or a race.
func (f *fleet) checkLog(c *child) {
	f.t.Helper()
	if p := c.logProblems(); len(p) > 0 {
		f.t.Errorf("child %d (%s) output shows %q\n%s", c.pid, c.logPath, p, c.logTail())
	}
}

// s3Client returns an aws-sdk-go-v2 client for the child, without
// retries, and a function that drops its idle connections.
func s3Client(addr string) (*s3.Client, func()) {
	tr := &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true, ResponseHeaderTimeout: 2 * time.Minute}
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), UsePathStyle: true, Retryer: aws.NopRetryer{},
		HTTPClient: &http.Client{Transport: tr},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: ktUser, SecretAccessKey: ktPass}, nil
		}),
	}), tr.CloseIdleConnections
}

// procStatus returns VmRSS (bytes) and Threads of a process from
// /proc/PID/status.
func procStatus(pid int) (rss int64, threads int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			rss = kb << 10
		case "Threads:":
			threads, _ = strconv.Atoi(fields[1])
		}
	}
	return rss, threads, nil
}

// openFDs counts the open file descriptors of a process.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}
