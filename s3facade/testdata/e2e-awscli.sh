#!/usr/bin/env bash
# End-to-end check of the coffer server with the AWS CLI (Debian's awscli):
# cp up and down of a 100 MiB file and (multipart) of a 1 GiB file, ls,
# sync, rm and s3api calls (multipart ones too), content checked by hash. Usage (from the repository root):
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
"$work/coffer" serve --address 127.0.0.1:0 --ready-file "$work/addr" --log-level warn --insecure-ssec-loopback \
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
awss3 s3 mb s3://e2e >/dev/null || fail "mb of one's own bucket again (S3 in us-east-1: 200)"
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
# GetObjectAttributes answers the ETag unquoted (HEAD quotes it).
etag=$(awss3 s3api head-object --bucket e2e --key api/obj --query ETag --output text | tr -d '"')
[ "$(awss3 s3api get-object-attributes --bucket e2e --key api/obj --object-attributes ETag ObjectSize \
  --query '[ETag,ObjectSize]' --output text)" = "$etag	3000" ] || fail "get-object-attributes"
ok "s3api get-object-attributes"
awss3 s3api list-objects-v2 --bucket e2e --prefix tree/a/ --delimiter / --query 'CommonPrefixes[].Prefix' --output text | grep -q "tree/a/b/" || fail "list-objects-v2 delimiter"
ok "s3api list-objects-v2"
awss3 s3api get-bucket-location --bucket e2e >/dev/null || fail "get-bucket-location"
ok "s3api get-bucket-location"
# Object tagging: a tag set on upload, replaced, counted and removed.
awss3 s3api put-object --bucket e2e --key api/tagged --body "$work/tree/a/f1" --tagging 'team=a%20b&stage=raw' >/dev/null || fail "put-object --tagging"
[ "$(awss3 s3api get-object-tagging --bucket e2e --key api/tagged --query 'TagSet[].[Key,Value]' --output text | tr '\t\n' '=;')" = "stage=raw;team=a b;" ] || fail "get-object-tagging after put-object --tagging"
ok "s3api put-object --tagging and get-object-tagging"
awss3 s3api put-object-tagging --bucket e2e --key api/obj --tagging 'TagSet=[{Key=project,Value=blue},{Key=owner,Value=ana}]' || fail "put-object-tagging"
[ "$(awss3 s3api get-object-tagging --bucket e2e --key api/obj --query 'TagSet[].[Key,Value]' --output text | tr '\t\n' '=;')" = "owner=ana;project=blue;" ] || fail "get-object-tagging"
awss3 s3api head-object --bucket e2e --key api/obj --query TagCount --output text | grep -qx 2 || fail "head-object TagCount"
awss3 s3api delete-object-tagging --bucket e2e --key api/obj || fail "delete-object-tagging"
[ -z "$(awss3 s3api get-object-tagging --bucket e2e --key api/obj --query 'TagSet[].Key' --output text)" ] || fail "tags left after delete-object-tagging"
ok "s3api put-object-tagging, get-object-tagging, head-object TagCount, delete-object-tagging"
if awss3 s3api put-object-tagging --bucket e2e --key api/obj --tagging 'TagSet=[{Key=aws:x,Value=1}]' 2>"$work/tagerr"; then fail "aws: tag key accepted"; fi
grep -q InvalidTag "$work/tagerr" || fail "aws: tag key not refused with InvalidTag"
ok "s3api put-object-tagging refuses a reserved key with InvalidTag"
awss3 s3api delete-objects --bucket e2e --delete '{"Objects":[{"Key":"api/obj"},{"Key":"api/copy"},{"Key":"api/tagged"}]}' >/dev/null || fail "delete-objects"
ok "s3api delete-objects"

# ACLs are disabled as on an S3 bucket with BucketOwnerEnforced: reading
# one shows the owner's FULL_CONTROL, a public ACL is refused and writes
# nothing; settings never configured read as S3 reads them.
awss3 s3api get-bucket-acl --bucket e2e --query 'Grants[0].[Grantee.Type,Permission]' --output text | grep -qP '^CanonicalUser\tFULL_CONTROL$' || fail "get-bucket-acl"
ok "s3api get-bucket-acl"
if awss3 s3 cp "$work/tree/a/f1" s3://e2e/acl/public --acl public-read 2>"$work/err" >/dev/null; then fail "cp --acl public-read succeeded"; fi
grep -q AccessControlListNotSupported "$work/err" || fail "cp --acl public-read: $(cat "$work/err")"
if awss3 s3api head-object --bucket e2e --key acl/public >/dev/null 2>&1; then fail "refused cp --acl public-read wrote the object"; fi
ok "cp --acl public-read refused with AccessControlListNotSupported"
awss3 s3 cp "$work/tree/a/f1" s3://e2e/acl/owner --acl bucket-owner-full-control >/dev/null || fail "cp --acl bucket-owner-full-control"
awss3 s3api get-object-acl --bucket e2e --key acl/owner --query 'Grants[0].Permission' --output text | grep -qx FULL_CONTROL || fail "get-object-acl"
ok "cp --acl bucket-owner-full-control, s3api get-object-acl"
[ -z "$(awss3 s3api get-bucket-versioning --bucket e2e)" ] || fail "get-bucket-versioning printed something"
ok "s3api get-bucket-versioning prints nothing"
if awss3 s3api get-bucket-policy --bucket e2e 2>"$work/err" >/dev/null; then fail "get-bucket-policy succeeded"; fi
grep -q NoSuchBucketPolicy "$work/err" || fail "get-bucket-policy: $(cat "$work/err")"
awss3 s3api get-bucket-ownership-controls --bucket e2e --query 'OwnershipControls.Rules[0].ObjectOwnership' --output text | grep -qx BucketOwnerEnforced || fail "get-bucket-ownership-controls"
ok "s3api get-bucket-policy (NoSuchBucketPolicy), get-bucket-ownership-controls"
v=$(awss3 s3api list-object-versions --bucket e2e --prefix acl/ --query 'Versions[].[Key,VersionId,IsLatest]' --output text)
[ "$v" = "$(printf 'acl/owner\tnull\tTrue')" ] || fail "list-object-versions: $v"
ok "s3api list-object-versions (one null version per key)"
awss3 s3 rm s3://e2e/acl/owner >/dev/null || fail "rm acl/owner"

# Server-side encryption (issue 4): --sse AES256, aws:kms (default key and
# a named one), aws:kms:dsse, --sse-c (over loopback HTTP: the server runs
# with --insecure-ssec-loopback), and the bucket encryption API.
head -c $((3 << 20)) /dev/urandom >"$work/sse.bin"
want=$(sha256sum "$work/sse.bin" | cut -d' ' -f1)
head -c 32 /dev/urandom >"$work/ssec.key"
for mode in AES256 aws:kms; do
  awss3 s3 cp "$work/sse.bin" "s3://e2e/sse/$mode" --sse "$mode" >/dev/null || fail "cp up --sse $mode"
  awss3 s3api head-object --bucket e2e --key "sse/$mode" --query ServerSideEncryption --output text | grep -qx "$mode" || fail "head-object reports $mode"
  awss3 s3 cp "s3://e2e/sse/$mode" "$work/sse.down" >/dev/null || fail "cp down --sse $mode"
  [ "$(sha256sum "$work/sse.down" | cut -d' ' -f1)" = "$want" ] || fail "--sse $mode content differs"
  ok "cp --sse $mode up and down, same sha256"
done
# aws-cli v1's "s3 cp --sse" knows no aws:kms:dsse: s3api takes it.
awss3 s3api put-object --bucket e2e --key sse/dsse --body "$work/sse.bin" --server-side-encryption aws:kms:dsse \
  --query ServerSideEncryption --output text | grep -qx aws:kms:dsse || fail "put-object aws:kms:dsse"
awss3 s3api get-object --bucket e2e --key sse/dsse "$work/sse.down" >/dev/null || fail "get-object aws:kms:dsse"
[ "$(sha256sum "$work/sse.down" | cut -d' ' -f1)" = "$want" ] || fail "aws:kms:dsse content differs"
ok "s3api put-object/get-object aws:kms:dsse, same sha256"
awss3 s3api put-object --bucket e2e --key sse/kms-alias --body "$work/sse.bin" --server-side-encryption aws:kms \
  --ssekms-key-id alias/aws/s3 --query SSEKMSKeyId --output text | grep -q '^arn:aws:kms:.*:key/' || fail "put-object --ssekms-key-id answers the key ARN"
ok "s3api put-object --ssekms-key-id alias/aws/s3"
awss3 s3 cp "$work/sse.bin" s3://e2e/sse/ssec --sse-c AES256 --sse-c-key "fileb://$work/ssec.key" >/dev/null || fail "cp up --sse-c"
awss3 s3 cp s3://e2e/sse/ssec "$work/sse.down" --sse-c AES256 --sse-c-key "fileb://$work/ssec.key" >/dev/null || fail "cp down --sse-c"
[ "$(sha256sum "$work/sse.down" | cut -d' ' -f1)" = "$want" ] || fail "--sse-c content differs"
ok "cp --sse-c up and down, same sha256"
if awss3 s3 cp s3://e2e/sse/ssec "$work/sse.nokey" >/dev/null 2>&1; then fail "SSE-C object read without its key"; fi
ok "SSE-C object refused without its key"
awss3 s3api get-bucket-encryption --bucket e2e --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm' --output text | grep -qx AES256 || fail "get-bucket-encryption default"
awss3 s3api put-bucket-encryption --bucket e2e --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"},"BucketKeyEnabled":true}]}' || fail "put-bucket-encryption"
awss3 s3 cp "$work/sse.bin" s3://e2e/sse/default >/dev/null || fail "cp up under a KMS default"
awss3 s3api head-object --bucket e2e --key sse/default --query '[ServerSideEncryption,BucketKeyEnabled]' --output text | grep -qP '^aws:kms\tTrue$' || fail "bucket default not applied"
awss3 s3 cp s3://e2e/sse/default "$work/sse.down" >/dev/null || fail "cp down under a KMS default"
[ "$(sha256sum "$work/sse.down" | cut -d' ' -f1)" = "$want" ] || fail "default-encrypted content differs"
awss3 s3api delete-bucket-encryption --bucket e2e || fail "delete-bucket-encryption"
awss3 s3api get-bucket-encryption --bucket e2e --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm' --output text | grep -qx AES256 || fail "get-bucket-encryption after delete"
ok "s3api put/get/delete-bucket-encryption, bucket default applied"
rm -f "$work/sse.bin" "$work/sse.down"

# Multipart (issue 5): aws s3 cp of 1 GiB in 64 MiB parts, then the
# low-level s3api calls.
aws configure set default.s3.multipart_threshold 64MB
aws configure set default.s3.multipart_chunksize 64MB
head -c $((1 << 30)) /dev/urandom >"$work/huge.bin"
want=$(sha256sum "$work/huge.bin" | cut -d' ' -f1)
awss3 s3 cp "$work/huge.bin" s3://e2e/mp/huge.bin >/dev/null || fail "cp up 1 GiB multipart"
awss3 s3api head-object --bucket e2e --key mp/huge.bin --query ETag --output text | grep -q -- '-16"$' || fail "1 GiB object is not a 16-part object"
ok "cp up 1 GiB in 16 parts"
awss3 s3api head-object --bucket e2e --key mp/huge.bin --part-number 2 --query '[ContentLength,PartsCount]' --output text | grep -qP '^67108864\t16$' || fail "head-object --part-number"
ok "s3api head-object --part-number"
awss3 s3api get-object --bucket e2e --key mp/huge.bin --range bytes=67108860-67108869 "$work/mprange" >/dev/null || fail "range across a part boundary"
cmp "$work/mprange" <(tail -c +67108861 "$work/huge.bin" | head -c 10) || fail "range across a part boundary differs"
ok "range across a part boundary"
# The same 1 GiB multipart upload under SSE-KMS and SSE-C: each part gets
# its own key, and the download decrypts part by part.
for mode in kms ssec; do
  case $mode in
    kms) flags=(--sse aws:kms) ;;
    ssec) flags=(--sse-c AES256 --sse-c-key "fileb://$work/ssec.key") ;;
  esac
  awss3 s3 cp "$work/huge.bin" "s3://e2e/mp/huge-$mode.bin" "${flags[@]}" >/dev/null || fail "cp up 1 GiB multipart ($mode)"
  awss3 s3 cp "s3://e2e/mp/huge-$mode.bin" "$work/huge.down" "${flags[@]}" >/dev/null || fail "cp down 1 GiB ($mode)"
  [ "$(sha256sum "$work/huge.down" | cut -d' ' -f1)" = "$want" ] || fail "1 GiB content differs ($mode)"
  rm -f "$work/huge.down"
  awss3 s3 rm "s3://e2e/mp/huge-$mode.bin" >/dev/null || fail "rm 1 GiB ($mode)"
  ok "cp up and down 1 GiB multipart with $mode, same sha256"
done
rm -f "$work/huge.bin"
awss3 s3 cp s3://e2e/mp/huge.bin "$work/huge.down" >/dev/null || fail "cp down 1 GiB"
[ "$(sha256sum "$work/huge.down" | cut -d' ' -f1)" = "$want" ] || fail "1 GiB content differs"
rm -f "$work/huge.down"
ok "cp down 1 GiB, same sha256"

head -c $((5 << 20)) /dev/urandom >"$work/p1"
head -c 1000 /dev/urandom >"$work/p2"
uid=$(awss3 s3api create-multipart-upload --bucket e2e --key mp/api --content-type text/x-test --query UploadId --output text) || fail "create-multipart-upload"
e1=$(awss3 s3api upload-part --bucket e2e --key mp/api --upload-id "$uid" --part-number 1 --body "$work/p1" --query ETag --output text) || fail "upload-part 1"
e2=$(awss3 s3api upload-part --bucket e2e --key mp/api --upload-id "$uid" --part-number 2 --body "$work/p2" --query ETag --output text) || fail "upload-part 2"
ok "s3api create-multipart-upload, upload-part"
[ "$(awss3 s3api list-parts --bucket e2e --key mp/api --upload-id "$uid" --query 'Parts[].PartNumber' --output text)" = "$(printf '1\t2')" ] || fail "list-parts"
ok "s3api list-parts"
awss3 s3api list-multipart-uploads --bucket e2e --query 'Uploads[].UploadId' --output text | grep -q "$uid" || fail "list-multipart-uploads"
ok "s3api list-multipart-uploads"
awss3 s3api complete-multipart-upload --bucket e2e --key mp/api --upload-id "$uid" \
  --multipart-upload "{\"Parts\":[{\"PartNumber\":1,\"ETag\":$e1},{\"PartNumber\":2,\"ETag\":$e2}]}" >/dev/null || fail "complete-multipart-upload"
awss3 s3api get-object --bucket e2e --key mp/api "$work/mpapi" | grep -q '"ContentType": "text/x-test"' || fail "completed object content type"
cmp "$work/mpapi" <(cat "$work/p1" "$work/p2") || fail "completed object content"
ok "s3api complete-multipart-upload"
uid=$(awss3 s3api create-multipart-upload --bucket e2e --key mp/gone --query UploadId --output text) || fail "create-multipart-upload 2"
awss3 s3api upload-part --bucket e2e --key mp/gone --upload-id "$uid" --part-number 1 --body "$work/p2" >/dev/null || fail "upload-part to abort"
awss3 s3api abort-multipart-upload --bucket e2e --key mp/gone --upload-id "$uid" || fail "abort-multipart-upload"
if awss3 s3api list-parts --bucket e2e --key mp/gone --upload-id "$uid" 2>"$work/err" >/dev/null; then fail "aborted upload still listed"; fi
grep -q NoSuchUpload "$work/err" || fail "aborted upload: $(cat "$work/err")"
ok "s3api abort-multipart-upload"

awss3 s3 rm s3://e2e --recursive >/dev/null || fail "rm --recursive"
[ -z "$(awss3 s3 ls s3://e2e --recursive)" ] || fail "bucket not empty after rm"
ok "rm --recursive"
awss3 s3 rb s3://e2e >/dev/null || fail "rb"
ok "rb"

kill -TERM "$pid"; wait "$pid" || fail "server exit status"
pid=""
ok "graceful shutdown"
echo "$pass passed, 0 failed"
