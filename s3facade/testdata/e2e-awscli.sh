#!/usr/bin/env bash
# End-to-end check of the coffer server with the AWS CLI (Debian's awscli):
# cp up and down of a 100 MiB file, ls, sync, rm and s3api calls, content
# checked by hash. Usage (from the repository root):
#
#   bash s3facade/testdata/e2e-awscli.sh
#
# Needs: go, aws (apt-get install awscli), sha256sum. Starts the server on
# 127.0.0.1 with a free port and temporary drives; cleans up on exit.
set -euo pipefail

command -v aws >/dev/null || { echo "e2e: aws CLI not installed (apt-get install awscli)"; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/coffer" ./cmd/coffer
export COFFER_ROOT_USER=e2euser
export COFFER_ROOT_PASSWORD=e2e-secret-password
"$work/coffer" serve --address 127.0.0.1:0 --ready-file "$work/addr" --log-level warn \
  "$work/d1" "$work/d2" "$work/d3" "$work/d4" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { cat "$work/server.log"; echo "e2e: server did not start"; exit 1; }
endpoint="http://$(head -n1 "$work/addr")"

export AWS_ACCESS_KEY_ID=$COFFER_ROOT_USER
export AWS_SECRET_ACCESS_KEY=$COFFER_ROOT_PASSWORD
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$work/aws-config"
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
cat >"$AWS_CONFIG_FILE" <<CFG
[default]
region = us-east-1
s3 =
  multipart_threshold = 6GB
  addressing_style = path
CFG
awss3() { aws --endpoint-url "$endpoint" "$@"; }
pass=0
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
fail() { echo "FAIL: $*"; echo "--- server log"; tail -n 50 "$work/server.log"; exit 1; }

awss3 s3 mb s3://e2e >/dev/null || fail "mb"
ok "mb"

head -c $((100 << 20)) /dev/urandom >"$work/big.bin"
want=$(sha256sum "$work/big.bin" | cut -d' ' -f1)
awss3 s3 cp "$work/big.bin" s3://e2e/dir/big.bin >/dev/null || fail "cp up 100 MiB"
ok "cp up 100 MiB"
awss3 s3 cp s3://e2e/dir/big.bin "$work/big.down" >/dev/null || fail "cp down"
[ "$(sha256sum "$work/big.down" | cut -d' ' -f1)" = "$want" ] || fail "100 MiB content differs"
ok "cp down 100 MiB, same sha256"

awss3 s3 ls s3://e2e/dir/ | grep -q "104857600 big.bin" || fail "ls"
ok "ls"

mkdir -p "$work/tree/a/b" "$work/back"
for i in $(seq 1 20); do head -c $((i * 1000)) /dev/urandom >"$work/tree/a/f$i"; done
echo hello >"$work/tree/a/b/space name.txt"
awss3 s3 sync "$work/tree" s3://e2e/tree >/dev/null || fail "sync up"
ok "sync up"
awss3 s3 sync s3://e2e/tree "$work/back" >/dev/null || fail "sync down"
diff -r "$work/tree" "$work/back" || fail "sync round trip differs"
ok "sync down, trees equal"
[ -z "$(awss3 s3 sync "$work/tree" s3://e2e/tree --dryrun)" ] || fail "second sync is not a no-op"
ok "sync again is a no-op"

awss3 s3api head-object --bucket e2e --key dir/big.bin | grep -q '"ContentLength": 104857600' || fail "head-object"
ok "s3api head-object"
awss3 s3api put-object --bucket e2e --key api/obj --body "$work/tree/a/f3" --metadata k=v >/dev/null || fail "put-object"
awss3 s3api get-object --bucket e2e --key api/obj --range bytes=10-19 "$work/range" >/dev/null || fail "ranged get-object"
[ "$(sha256sum <"$work/range")" = "$(tail -c +11 "$work/tree/a/f3" | head -c 10 | sha256sum)" ] || fail "range content"
ok "s3api put-object and ranged get-object"
awss3 s3api copy-object --bucket e2e --key api/copy --copy-source e2e/api/obj >/dev/null || fail "copy-object"
awss3 s3api get-object --bucket e2e --key api/copy "$work/copy" | grep -q '"k": "v"' || fail "copy kept metadata"
cmp "$work/copy" "$work/tree/a/f3" || fail "copy content"
ok "s3api copy-object"
awss3 s3api list-objects-v2 --bucket e2e --prefix tree/a/ --delimiter / --query 'CommonPrefixes[].Prefix' --output text | grep -q "tree/a/b/" || fail "list-objects-v2 delimiter"
ok "s3api list-objects-v2"
awss3 s3api get-bucket-location --bucket e2e >/dev/null || fail "get-bucket-location"
ok "s3api get-bucket-location"
awss3 s3api delete-objects --bucket e2e --delete '{"Objects":[{"Key":"api/obj"},{"Key":"api/copy"}]}' >/dev/null || fail "delete-objects"
ok "s3api delete-objects"

awss3 s3 rm s3://e2e --recursive >/dev/null || fail "rm --recursive"
[ -z "$(awss3 s3 ls s3://e2e --recursive)" ] || fail "bucket not empty after rm"
ok "rm --recursive"
awss3 s3 rb s3://e2e >/dev/null || fail "rb"
ok "rb"

kill -TERM "$pid"; wait "$pid" || fail "server exit status"
pid=""
ok "graceful shutdown"
echo "$pass passed, 0 failed"
