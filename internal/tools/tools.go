//go:build tools

// Package tools pins modules that packages not yet written will import.
package tools
import (
 _ "github.com/klauspost/reedsolomon"
 _ "github.com/minio/sha256-simd"
 _ "github.com/cockroachdb/pebble/v2"
 _ "github.com/cockroachdb/pebble/v2/vfs"
 _ "github.com/valyala/fasthttp"
 _ "github.com/minio/md5-simd"
)
