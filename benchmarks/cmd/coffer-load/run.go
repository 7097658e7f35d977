package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cofferdb/coffer/benchmarks/loadgen"
	"github.com/cofferdb/coffer/benchmarks/loadgen/localserver"
)

// maxCombinations bounds the runs one invocation may expand to.
const maxCombinations = 1000

// run parses args, runs every requested combination and writes the
// reports to stdout (progress and errors go to stderr).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coffer-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         loadgen.Options
		scenarios = fs.String("scenario", "put,get", "scenarios: put, get, mixed, list, delete (comma-separated)")
		sizes     = fs.String("size", "4KiB", "object sizes, e.g. 4KiB,64KiB,1MiB,16MiB,64MiB")
		concs     = fs.String("concurrency", "1", "parallel clients, e.g. 1,4,16,64")
		sses      = fs.String("sse", "none", "SSE modes: none, AES256, aws:kms, aws:kms+bucket, aws:kms:dsse, sse-c, or all")
		seed      = fs.Uint64("seed", 0, "content and choice seed; 0 picks one")
		client    = fs.String("client", "raw", "S3 client: raw (lean, signed by internal/sigv4) or sdk (aws-sdk-go-v2)")
		jsonOut   = fs.Bool("json", false, "print results as JSON instead of a table")
		svgOut    = fs.String("svg", "", "write a chart per run to this SVG file (suffixed -N when several runs)")
		quiet     = fs.Bool("quiet", false, "no progress lines on stderr")
		bEndpoint = fs.String("b-endpoint", "", "compare: endpoint B (A is -endpoint)")
		bAccess   = fs.String("b-access-key", "", "compare: access key of B (default: A's)")
		bSecret   = fs.String("b-secret-key", "", "compare: secret key of B (default: A's)")
		bBucket   = fs.String("b-bucket", "", "compare: bucket of B (default: A's)")
		rounds    = fs.Int("rounds", 5, "compare: rounds of A then B")
		local     = fs.Int("local", 0, "start an in-process Coffer server over this many temporary drive folders and measure it")
		localK    = fs.Int("local-k", 0, "in-process server: data shards (0: drives−2)")
		localM    = fs.Int("local-m", 0, "in-process server: parity shards (0: 2 when -local ≥ 4)")
		localDir  = fs.String("local-dir", "", "in-process server: parent of the drive folders (default: a temporary directory)")
		localFast = fs.Bool("local-nosync", false, "in-process server: skip fsync (not durable)")
		ceiling   = fs.Bool("ceiling", false, "with -local: before the runs, measure the disk stage of each PUT size alone (k+m files of the shard size written, fsynced with their folders) in object MB/s")
		cpuProf   = fs.String("cpuprofile", "", "write a CPU profile of this process (client and any -local server) to this file")
	)
	fs.StringVar(&o.Endpoint, "endpoint", "", "S3 endpoint URL, http(s)://host:port (path-style)")
	fs.StringVar(&o.AccessKey, "access-key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.SecretKey, "secret-key", "", "secret key (default $AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&o.Region, "region", loadgen.DefaultRegion, "signing region")
	fs.StringVar(&o.Bucket, "bucket", "coffer-load", "bucket")
	fs.BoolVar(&o.CreateBucket, "create-bucket", false, "create the bucket first")
	fs.StringVar(&o.KMSKeyID, "kms-key-id", "", "KMS key id for the aws:kms modes (default: the server's)")
	fs.DurationVar(&o.Duration, "duration", 0, "measured time per run (default 10s unless -count is set)")
	fs.Int64Var(&o.Count, "count", 0, "operations per run (default: a cap of 1,000,000)")
	fs.IntVar(&o.Objects, "objects", 0, "objects prepared for get/mixed/list/delete (default: by scenario)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the objects written")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "sample this local process's resident memory during each run (Linux); with -local, this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.SecretKey == "" {
		o.SecretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	o.Seed, o.Client = *seed, loadgen.ClientKind(*client)
	if !*quiet {
		o.Progress = stderr
	}

	combos, err := expand(o, *scenarios, *sizes, *concs, *sses)
	if err != nil {
		return err
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if *local > 0 {
		if o.Endpoint != "" || *bEndpoint != "" {
			return errors.New("-local measures the in-process server; drop -endpoint and -b-endpoint")
		}
		k, m := *localK, *localM
		if m == 0 && *local >= 4 {
			m = 2
		}
		srv, err := localserver.Start(localserver.Options{Dir: *localDir, Drives: *local, DataShards: k, ParityShards: m, NoSync: *localFast})
		if err != nil {
			return err
		}
		defer srv.Close()
		for i := range combos {
			combos[i].Endpoint, combos[i].AccessKey, combos[i].SecretKey, combos[i].Region = srv.URL, localserver.AccessKey, localserver.SecretKey, localserver.Region
			combos[i].CreateBucket = true
		}
		if o.ServerPID == 0 {
			for i := range combos {
				combos[i].ServerPID = os.Getpid()
			}
		}
		if *ceiling && !*localFast {
			if err := printCeilings(ctx, srv.Drives, k, m, combos, stdout); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "in-process Coffer at %s: %d drives, k=%d m=%d, durable=%v\n", srv.URL, *local, k, m, !*localFast)
	}
	for _, c := range combos {
		if err := c.Validate(); err != nil {
			return err
		}
	}

	if *bEndpoint != "" {
		return compare(ctx, combos, *bEndpoint, *bAccess, *bSecret, *bBucket, *rounds, *jsonOut, stdout, stderr)
	}

	var results []*loadgen.Result
	for _, c := range combos {
		res, err := loadgen.Run(ctx, c)
		if err != nil {
			return err
		}
		results = append(results, res)
		if res.Unsupported != "" {
			fmt.Fprintf(stderr, "%s %s: server does not support SSE %s: %s\n", c.Scenario, loadgen.FormatSize(c.Size), c.SSE, res.Unsupported)
		}
	}
	if *svgOut != "" {
		if err := writeSVGs(*svgOut, results); err != nil {
			return err
		}
	}
	if *jsonOut {
		return loadgen.WriteJSON(stdout, results)
	}
	return loadgen.WriteTable(stdout, results)
}

// printCeilings measures the disk ceiling of every PUT size and
// concurrency in combos, for as long as each run lasts.
func printCeilings(ctx context.Context, drives []string, k, m int, combos []loadgen.Options, w io.Writer) error {
	if k == 0 {
		k = len(drives) - m
	}
	seen := map[[2]int64]bool{}
	for _, c := range combos {
		key := [2]int64{c.Size, int64(c.Concurrency)}
		if c.Scenario != loadgen.Put || seen[key] {
			continue
		}
		seen[key] = true
		d := c.Duration
		if d == 0 && c.Count == 0 {
			d = 10 * time.Second
		}
		mbps, err := loadgen.DiskCeiling(ctx, loadgen.DiskCeilingOptions{
			Drives: drives, DataShards: k, ParityShards: m, Size: c.Size, Concurrency: c.Concurrency, Duration: d, Count: c.Count,
		})
		if err != nil {
			return fmt.Errorf("disk ceiling: %w", err)
		}
		fmt.Fprintf(w, "disk ceiling, %s objects, %d at once, %d+%d durable: %.1f MB/s (object bytes)\n", loadgen.FormatSize(c.Size), c.Concurrency, k, m, mbps)
	}
	return nil
}

// expand returns one Options per combination of the lists.
func expand(base loadgen.Options, scenarios, sizes, concs, sses string) ([]loadgen.Options, error) {
	var scs []loadgen.Scenario
	for _, s := range split(scenarios) {
		if s == "all" {
			scs = append(scs, loadgen.Scenarios...)
			continue
		}
		scs = append(scs, loadgen.Scenario(s))
	}
	var szs []int64
	for _, s := range split(sizes) {
		n, err := loadgen.ParseSize(s)
		if err != nil {
			return nil, err
		}
		szs = append(szs, n)
	}
	var cs []int
	for _, s := range split(concs) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("concurrency %q: %w", s, err)
		}
		cs = append(cs, n)
	}
	var ms []loadgen.SSE
	for _, s := range split(sses) {
		if s == "all" {
			ms = append(ms, loadgen.SSEModes...)
			continue
		}
		ms = append(ms, loadgen.SSE(s))
	}
	if n := len(scs) * len(szs) * len(cs) * len(ms); n == 0 || n > maxCombinations {
		return nil, fmt.Errorf("%d combinations of scenario, size, concurrency and sse; want 1..%d", n, maxCombinations)
	}
	var out []loadgen.Options
	for _, m := range ms {
		for _, sz := range szs {
			for _, c := range cs {
				for _, s := range scs {
					o := base
					o.Scenario, o.Size, o.Concurrency, o.SSE = s, sz, c, m
					out = append(out, o)
				}
			}
		}
	}
	return out, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func compare(ctx context.Context, combos []loadgen.Options, endpoint, access, secret, bucket string, rounds int, jsonOut bool, stdout, stderr io.Writer) error {
	var all []*loadgen.Comparison
	for _, a := range combos {
		b := a
		b.Endpoint = endpoint
		if access != "" {
			b.AccessKey = access
		}
		if secret != "" {
			b.SecretKey = secret
		}
		if bucket != "" {
			b.Bucket = bucket
		}
		if err := b.Validate(); err != nil {
			return fmt.Errorf("endpoint B: %w", err)
		}
		c, err := loadgen.Compare(ctx, a, b, rounds, stderr)
		if err != nil {
			return err
		}
		all = append(all, c)
		if !jsonOut {
			if err := loadgen.WriteComparison(stdout, c); err != nil {
				return err
			}
		}
	}
	if jsonOut {
		return loadgen.WriteJSON(stdout, all)
	}
	return nil
}

// writeSVGs writes one chart per result; with several, name-1.svg, ...
func writeSVGs(name string, results []*loadgen.Result) error {
	for i, r := range results {
		path := name
		if len(results) > 1 {
			ext := filepath.Ext(name)
			path = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), i+1, ext)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		err = loadgen.WriteSVG(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
