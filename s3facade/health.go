package s3facade

import "bytes"

func (s *Server) serveMetrics(*request) (*response, error) {
	var b bytes.Buffer
	s.metrics.write(&b)
	resp := &response{body: bytes.NewReader(b.Bytes()), size: int64(b.Len())}
	resp.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	return resp, nil
}
