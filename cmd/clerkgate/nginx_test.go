package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// nginxConf is an nginx in front of the echo upstream that asks clerkgate's
// forward-auth about every request (auth_request) and passes the identity
// on. Every identity header is set from the answer, so a client's own
// X-Clerkgate-* values never reach the upstream (an empty value removes the
// header in nginx; names with "_" are dropped by nginx by default).
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
%[1]s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream clerkgate { server %[3]s; }
	upstream app { server %[4]s; }
	server {
		listen %[5]s;
		location / {
			auth_request /_auth;
			auth_request_set $cg_user $upstream_http_x_clerkgate_user_id;
			auth_request_set $cg_clerk_user $upstream_http_x_clerkgate_clerk_user_id;
			auth_request_set $cg_email $upstream_http_x_clerkgate_email;
			auth_request_set $cg_role $upstream_http_x_clerkgate_role;
			auth_request_set $cg_perms $upstream_http_x_clerkgate_permissions;
			auth_request_set $cg_org $upstream_http_x_clerkgate_org_id;
			auth_request_set $cg_org_role $upstream_http_x_clerkgate_org_role;
			auth_request_set $cg_session $upstream_http_x_clerkgate_session_id;
			auth_request_set $cg_auth $upstream_http_x_clerkgate_auth;
			proxy_set_header X-Clerkgate-User-Id $cg_user;
			proxy_set_header X-Clerkgate-Clerk-User-Id $cg_clerk_user;
			proxy_set_header X-Clerkgate-Email $cg_email;
			proxy_set_header X-Clerkgate-Role $cg_role;
			proxy_set_header X-Clerkgate-Permissions $cg_perms;
			proxy_set_header X-Clerkgate-Org-Id $cg_org;
			proxy_set_header X-Clerkgate-Org-Role $cg_org_role;
			proxy_set_header X-Clerkgate-Session-Id $cg_session;
			proxy_set_header X-Clerkgate-Auth $cg_auth;
			proxy_pass http://app;
		}
		location = /_auth {
			internal;
			proxy_pass http://clerkgate/auth/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URI $request_uri;
			proxy_set_header X-Original-Method $request_method;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		}
	}
}
`

// startNginx runs nginx with nginxConf until the test ends and returns its
// address. Without nginx the test is skipped, except in CI (CI=true),
// where .ci/run installs it and its absence is a failure.
func startNginx(t *testing.T, clerkgateAddr, appAddr string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed: CI needs it for the forward-auth test (.ci/run installs it)")
		}
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // nginx as root otherwise switches to nobody
	}
	conf := dir + "/nginx.conf"
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, dir, clerkgateAddr, appAddr, addr), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", conf, "-e", dir+"/error.log")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("nginx did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(dir + "/error.log")
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	log, _ := os.ReadFile(dir + "/error.log")
	t.Fatalf("nginx did not listen on %s in time\n%s\n%s", addr, out.String(), log)
	return ""
}

// TestNginxAuthRequest puts a real nginx (auth_request) in front of the
// echo upstream, with clerkgate's GET /auth/verify deciding: allowed,
// denied and anonymous routes behave as the policy says, and the upstream
// gets the identity from clerkgate, not from the client.
func TestNginxAuthRequest(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "")
	ngx := startNginx(t, f.addr, strings.TrimPrefix(f.up.URL, "http://"))
	aliceTok := f.token(t, clerkemu.SessionParams{UserID: f.alice.ID})
	bobTok := f.token(t, clerkemu.SessionParams{UserID: f.bob.ID})
	aliceID := me(t, f.base, aliceTok)["id"].(string)

	cases := []struct {
		name, method, target string
		headers              []string
		status               int    // nginx's answer
		role                 string // X-Clerkgate-Role the upstream got ("" none)
	}{
		{"anonymous route", "GET", "/api/public/page", nil, 200, ""},
		{"anonymous route with a session", "GET", "/api/public/page", []string{"Authorization: Bearer " + bobTok}, 200, "member"},
		{"admin", "GET", "/api/admin/users?page=2", []string{"Authorization: Bearer " + aliceTok}, 200, "admin"},
		{"admin by cookie", "DELETE", "/api/admin/users/1", []string{"Cookie: theme=dark; __session=" + aliceTok}, 200, "admin"},
		{"member refused", "GET", "/api/admin/users", []string{"Authorization: Bearer " + bobTok}, 403, ""},
		{"member, method not listed", "HEAD", "/reports/q1", []string{"Authorization: Bearer " + bobTok}, 403, ""},
		{"member allowed", "POST", "/api/things", []string{"Authorization: Bearer " + bobTok, "Content-Length: 0"}, 200, "member"},
		{"no credentials", "GET", "/api/things", nil, 401, ""},
		{"bad token", "GET", "/api/things", []string{"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}, 401, ""},
		{"no route", "GET", "/elsewhere", []string{"Authorization: Bearer " + aliceTok}, 403, ""},
		{"dot-dot", "GET", "/api/public/../admin/users", []string{"Authorization: Bearer " + bobTok}, 403, ""},
		{"spoofed identity", "GET", "/api/things", []string{"Authorization: Bearer " + bobTok, "X-Clerkgate-Role: admin", "X-Clerkgate-User-Id: " + aliceID}, 200, "member"},
		{"spoofed original URI", "GET", "/api/admin/users", []string{"Authorization: Bearer " + bobTok, "X-Original-URI: /api/public/page", "X-Original-Method: GET"}, 403, ""},
		{"spoofed Traefik headers", "GET", "/api/admin/users", []string{"Authorization: Bearer " + bobTok, "X-Forwarded-Uri: /api/public/page"}, 500, ""}, // 400 from clerkgate: nginx answers 500
		{"spoofed forwarded-for", "GET", "/api/admin/users", []string{"Authorization: Bearer " + bobTok, "X-Forwarded-For: 10.9.9.9"}, 403, ""},
	}
	for _, c := range cases {
		p := raw(t, ngx, c.method, c.target, c.headers...)
		if p.status != c.status {
			t.Errorf("%s: %s %s through nginx: %d %s, want %d", c.name, c.method, c.target, p.status, p.body, c.status)
			continue
		}
		if p.status == 401 && !strings.HasPrefix(p.header.Get("WWW-Authenticate"), `Bearer realm="clerkgate"`) {
			t.Errorf("%s: 401 without clerkgate's challenge: %v", c.name, p.header)
		}
		if p.status != 200 || c.method == "HEAD" {
			continue
		}
		if p.echo == nil {
			t.Errorf("%s: not the upstream's answer: %s", c.name, p.body)
			continue
		}
		ids := gatewayHeaders(p.echo.Header)
		if ids["X-Clerkgate-Role"] != c.role || (c.role == "") != (len(ids) == 0) {
			t.Errorf("%s: the upstream got identity %v, want role %q", c.name, ids, c.role)
		}
		if c.role == "admin" && (ids["X-Clerkgate-User-Id"] != aliceID || ids["X-Clerkgate-Auth"] != "session") {
			t.Errorf("%s: the upstream got identity %v, want alice (%s)", c.name, ids, aliceID)
		}
	}
	// Refused requests never reached the upstream.
	allowed := 0
	for _, c := range cases {
		if c.status == 200 {
			allowed++
		}
	}
	if seen := f.up.seen(); len(seen) != allowed {
		t.Errorf("the upstream got %d requests, want the %d allowed ones: %v", len(seen), allowed, seen)
	}
	if r := get(t, f.base+"/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz: %d", r.status)
	}
}
