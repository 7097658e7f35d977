// Command coffer-load drives an S3 endpoint with the load generator in
// benchmarks/loadgen: scenarios, sizes, concurrencies and SSE modes (each a
// comma-separated list; every combination runs), with content verification,
// progress on stderr, and a table, JSON (-json) or SVG chart (-svg) of the
// results. With -b-endpoint it compares two endpoints, alternating A and B.
// With -local it starts a Coffer server in-process and measures that.
//
//	coffer-load -endpoint http://127.0.0.1:9000 -bucket bench -create-bucket \
//	    -scenario put,get -size 16MiB -concurrency 4 -sse AES256 -duration 10s
//	coffer-load -local 6 -scenario put,get -size 4KiB -concurrency 16
//
// Credentials come from -access-key/-secret-key or AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffer-load:", err)
		os.Exit(1)
	}
}
