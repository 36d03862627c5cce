package httpapi

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// accessEntry is the access log's record of one request.
type accessEntry struct {
	requestID, method, route, path, remoteIP string
	status                                   int
	bytes                                    int64
	duration                                 time.Duration
}

// logAccess writes the one access-log line of a request, at level info.
// With Deps.AccessLog the line is formatted here, in the shape slog's JSON
// handler gives it (the LOG_FORMAT=json format; a test holds the two
// equal), because a slog record of these eight attributes costs a tenth of
// a cached /auth/me request; otherwise it goes through the logger.
func (s *server) logAccess(ctx context.Context, end time.Time, e *accessEntry) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if s.accessLog == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "request", e.attrs()...)
		return
	}
	buf := accessPool.Get().(*[]byte)
	b := appendAccessJSON((*buf)[:0], end, e)
	s.accessLog.Write(b) // a log line that cannot be written is not the client's problem
	*buf = b
	if cap(b) <= 16<<10 {
		accessPool.Put(buf)
	}
}

// attrs are the access line's attributes for a slog record; the line
// appendAccessJSON writes holds the same.
func (e *accessEntry) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", e.requestID),
		slog.String("method", e.method),
		slog.String("route", e.route),
		slog.String("path", e.path),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration_ms", float64(e.duration.Microseconds())/1000),
		slog.String("remote_ip", e.remoteIP),
	}
}

// accessPool keeps the access log's line buffers.
var accessPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendAccessJSON appends e as one JSON line, with the keys and values
// slog's JSON handler writes for the same record.
func appendAccessJSON(b []byte, t time.Time, e *accessEntry) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Nano(b, t)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = appendString(b, e.requestID)
	b = append(b, `,"method":`...)
	b = appendString(b, e.method)
	b = append(b, `,"route":`...)
	b = appendString(b, e.route)
	b = append(b, `,"path":`...)
	b = appendString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.duration.Microseconds())
	b = append(b, `,"remote_ip":`...)
	b = appendString(b, e.remoteIP)
	return append(b, "}\n"...)
}

// appendRFC3339Nano appends t as t.AppendFormat(b, time.RFC3339Nano) does,
// at a fifth of its cost: every answer of /auth/me and every access-log
// line carries timestamps.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append2(b, int(month), '-')
	b = append2(b, day, 'T')
	b = append2(b, hour, ':')
	b = append2(b, minute, ':')
	b = append(b, byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i, v := 9, ns; i >= 1; i-- {
			frac[i] = byte('0' + v%10)
			v /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	_, offset := t.Zone()
	if offset == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if offset < 0 {
		sign, offset = '-', -offset
	}
	b = append(b, sign)
	b = append2(b, offset/3600, ':')
	return append(b, byte('0'+offset/60%60/10), byte('0'+offset/60%10))
}

// append2 appends the two digits of n (0..99) and then sep.
func append2(b []byte, n int, sep byte) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10), sep)
}

// appendMillis appends us microseconds as milliseconds, the way
// encoding/json writes float64(us)/1000: the shortest decimal, with no
// trailing zeros.
func appendMillis(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}
