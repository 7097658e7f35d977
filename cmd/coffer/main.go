// Command coffer runs Coffer's standalone S3 server.
//
//	coffer serve [flags] [DRIVE ...]
//	coffer version
//
// main only calls run; everything else lives in run and its helpers so
// tests (and other programs) can start the same server in-process.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffer:", err)
		os.Exit(1)
	}
}
