package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssEvery is how often the server's resident memory is sampled.
const rssEvery = 100 * time.Millisecond

// readRSS returns the resident set size of process pid in bytes, from
// /proc (Linux only).
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadgen: VmRSS of %d: %q", pid, line)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("loadgen: no VmRSS for process %d", pid)
}

// rssSampler samples a process's resident memory until stopped and keeps
// the first and largest figures.
type rssSampler struct {
	first, peak int64
	err         error
	stop, done  chan struct{}
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.first, s.err = readRSS(pid)
	s.peak = s.first
	go func() {
		defer close(s.done)
		if s.err != nil {
			return
		}
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			n, err := readRSS(pid)
			if err != nil {
				s.err = err
				return
			}
			s.peak = max(s.peak, n)
		}
	}()
	return s
}

// finish stops the sampler and returns the first and peak RSS in bytes.
func (s *rssSampler) finish() (first, peak int64, err error) {
	close(s.stop)
	<-s.done
	return s.first, s.peak, s.err
}
