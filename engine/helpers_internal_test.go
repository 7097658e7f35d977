package engine

import "github.com/cofferdb/coffer/engine/internal/index"

type indexTxn = index.Txn

func objectKey(bucket, key string) []byte { return index.ObjectKey(bucket, key) }
