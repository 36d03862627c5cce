// Package testkit holds what the tests of several packages need from the
// machine: the test Redis, and a TCP proxy that cuts a service off and puts
// it back. It is imported by tests only.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURLVar names the variable that points the tests at a Redis.
const RedisURLVar = "CLERKGATE_TEST_REDIS_URL"

// MustRedis returns the URL of the test Redis and a key prefix of the test's
// own, whose keys are deleted when the test ends (after the services the
// test started, which t.Cleanup stops first). Without CLERKGATE_TEST_REDIS_URL
// the test is skipped; with it, a Redis that does not answer fails the test.
func MustRedis(tb testing.TB) (redisURL, prefix string) {
	tb.Helper()
	redisURL = os.Getenv(RedisURLVar)
	if redisURL == "" {
		tb.Skip(RedisURLVar + " is not set")
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		tb.Fatalf("%s: %v", RedisURLVar, err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		tb.Fatalf("%s is set but Redis does not answer: %v", RedisURLVar, err)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	prefix = "clerkgate-test:" + hex.EncodeToString(id[:]) + ":"
	tb.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			tb.Errorf("deleting the test's keys: %v", err)
		}
	})
	return redisURL, prefix
}

// TCPProxy passes TCP connections on to a target; Cut closes them all and
// refuses new ones (accepted and closed at once) until Restore.
type TCPProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]struct{}
	refused int
}

// StartTCPProxy listens on 127.0.0.1 and passes connections to target
// until the test ends.
func StartTCPProxy(tb testing.TB, target string) *TCPProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

func (p *TCPProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

// track registers c, or refuses it when the proxy is down.
func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		p.refused++
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

// pipe copies both ways between c and a new connection to the target.
func (p *TCPProxy) pipe(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(up) {
		if up != nil {
			up.Close()
		}
		p.untrack(c)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, c)
		p.untrack(c, up)
	}()
	_, _ = io.Copy(c, up)
	p.untrack(c, up)
	<-done
}

// Cut closes every connection and refuses new ones.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore accepts connections again.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Refused is how many connections the proxy refused while cut.
func (p *TCPProxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

func (p *TCPProxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
