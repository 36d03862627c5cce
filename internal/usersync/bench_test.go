package usersync_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/postgres"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// Ingest benchmarks: the same concurrency and the same 1,000 users for the
// webhook path and for the plain upsert it is compared with.
const (
	benchUsers   = 1000
	benchSenders = 16
	benchSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// benchConfig is the pool configuration of both ingest benchmarks:
// CLERKGATE_BENCH_SYNCHRONOUS_COMMIT (say "off") sets synchronous_commit on
// every connection, to compare the CPU cost without the disk's flushes.
func benchConfig(b *testing.B, url, schema string) *pgxpool.Config {
	cfg := pgConfig(b, url, schema)
	if v := os.Getenv("CLERKGATE_BENCH_SYNCHRONOUS_COMMIT"); v != "" {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = v
	}
	return cfg
}

// setSenders makes b.RunParallel use benchSenders goroutines.
func setSenders(b *testing.B) {
	b.SetParallelism((benchSenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

// userEventTemplate is a realistic user.updated body (about 1.4 KB) cut
// where the user id and the version go.
var userEventTemplate = func() [3][]byte {
	body := string(event(nil, "user.updated", clerkUser("user_IDIDID", 424242424242)))
	body = strings.ReplaceAll(body, "idn_IDIDID", "idn_1")
	id := strings.Index(body, `"user_IDIDID"`) + 1
	rest := body[id+len("user_IDIDID"):]
	v := strings.Index(rest, "424242424242")
	return [3][]byte{[]byte(body[:id]), []byte(rest[:v]), []byte(rest[v+len("424242424242"):])}
}()

// userEvent returns the body of user.updated for user n at version v.
func userEvent(buf []byte, n int, v int64) []byte {
	buf = append(buf[:0], userEventTemplate[0]...)
	buf = fmt.Appendf(buf, "user_bench%04d", n)
	buf = append(buf, userEventTemplate[1]...)
	buf = strconv.AppendInt(buf, v, 10)
	return append(buf, userEventTemplate[2]...)
}

// BenchmarkIngestUserUpdated: signed user.updated events POSTed by
// concurrent senders over loopback HTTP to the real handler, into Postgres;
// each event is a new version of one of 1,000 users (verification, then
// the webhook record and the upsert in one statement: SaveClerkUserEvent,
// whose transactions carry every event that arrives while the previous one
// commits).
func BenchmarkIngestUserUpdated(b *testing.B) {
	url := postgresURL(b)
	st, err := postgres.New(context.Background(), benchConfig(b, url, mustSchema(b, url)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	seed(b, func(ctx context.Context, n int) error {
		// A row as the service writes it: with the role its policy gives.
		u := &clerkgate.User{ClerkUserID: fmt.Sprintf("user_bench%04d", n), Email: "seed@example.test", ClerkUpdatedAt: 1,
			Role: policy.Default().StoredRole(nil)}
		_, _, err := st.SaveClerkUser(ctx, u)
		return err
	})
	wh, err := verify.NewWebhook([]string{benchSecret}, verify.WebhookOptions{})
	if err != nil {
		b.Fatal(err)
	}
	syncer := usersync.New(usersync.Options{Store: st, Policy: policy.Default(), Denier: &verify.MemoryDenyList{},
		Security: security.New(st, nil, nil)})
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Webhook: wh, Syncer: syncer, Store: st}))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders * 2}}
	b.Cleanup(client.CloseIdleConnections)

	var version atomic.Int64
	version.Store(time.Now().UnixMilli())
	var stale, failed atomic.Int64
	setSenders(b)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var body []byte
		for pb.Next() {
			v := version.Add(1)
			body = userEvent(body, int(v%benchUsers), v)
			id := "msg_bench_" + strconv.FormatInt(v, 10)
			req, _ := http.NewRequest("POST", srv.URL+"/webhooks/clerk", bytes.NewReader(body))
			now := time.Now()
			req.Header.Set("svix-id", id)
			req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
			req.Header.Set("svix-signature", wh.Sign(id, now, body))
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode != 200:
				failed.Add(1)
			case bytes.Contains(answer, []byte(`"stale"`)):
				stale.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d deliveries failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(stale.Load())/float64(b.N), "stale/op")
}

// BenchmarkPlainUpsert is the floor BenchmarkIngestUserUpdated is compared
// with: one single-row INSERT ... ON CONFLICT DO UPDATE per event through
// pgx, on a scratch table, with the same pool configuration, concurrency
// and users.
func BenchmarkPlainUpsert(b *testing.B) {
	url := postgresURL(b)
	pool, err := pgxpool.NewWithConfig(context.Background(), benchConfig(b, url, mustSchema(b, url)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE plain_users (
		clerk_user_id text PRIMARY KEY, email text NOT NULL, first_name text NOT NULL, last_name text NOT NULL,
		image_url text NOT NULL, public_metadata jsonb, clerk_updated_at bigint NOT NULL, updated_at timestamptz NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	const upsert = `INSERT INTO plain_users AS p VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (clerk_user_id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,
		last_name = EXCLUDED.last_name, image_url = EXCLUDED.image_url, public_metadata = EXCLUDED.public_metadata,
		clerk_updated_at = EXCLUDED.clerk_updated_at, updated_at = EXCLUDED.updated_at`
	var version atomic.Int64
	version.Store(time.Now().UnixMilli())
	seed(b, func(ctx context.Context, n int) error {
		_, err := pool.Exec(ctx, upsert, fmt.Sprintf("user_bench%04d", n), "seed@example.test", "", "", "", nil, 1, time.Now())
		return err
	})
	var failed atomic.Int64
	setSenders(b)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v := version.Add(1)
			id := fmt.Sprintf("user_bench%04d", v%benchUsers)
			if _, err := pool.Exec(ctx, upsert, id, id+"@example.test", "Ada", "Lovelace",
				"https://img.clerk.test/"+id+".png", `{}`, v, time.Now()); err != nil {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d upserts failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// seed runs save for the benchUsers users, from benchSenders goroutines.
func seed(b *testing.B, save func(ctx context.Context, n int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchSenders)
	for range benchSenders {
		wg.Go(func() {
			for n := int(next.Add(1)) - 1; n < benchUsers; n = int(next.Add(1)) - 1 {
				if err := save(context.Background(), n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// TestIngestRatio runs BenchmarkPlainUpsert and BenchmarkIngestUserUpdated
// alternately, five times each, and logs the rate of each and the ratio of
// each pair: on a shared machine the disk's flush time drifts, so only
// figures taken side by side compare. It runs only with
// CLERKGATE_BENCH_INGEST=1 and the Postgres variable set.
func TestIngestRatio(t *testing.T) {
	if os.Getenv("CLERKGATE_BENCH_INGEST") != "1" {
		t.Skip("CLERKGATE_BENCH_INGEST is not 1")
	}
	postgresURL(t)
	rate := func(r testing.BenchmarkResult) float64 { return r.Extra["events/s"] }
	var ratios []float64
	for i := range 5 {
		plain := testing.Benchmark(BenchmarkPlainUpsert)
		ingest := testing.Benchmark(BenchmarkIngestUserUpdated)
		if plain.N == 0 || ingest.N == 0 {
			t.Fatal("a benchmark failed")
		}
		ratios = append(ratios, rate(ingest)/rate(plain))
		t.Logf("pair %d: plain upsert %.0f events/s (n=%d), webhook ingest %.0f events/s (n=%d, %.3f stale/op): %.0f%%",
			i+1, rate(plain), plain.N, rate(ingest), ingest.N, ingest.Extra["stale/op"], 100*ratios[i])
	}
	slices.Sort(ratios)
	t.Logf("median ratio %.0f%% (min %.0f%%, max %.0f%%); target 50%%", 100*ratios[2], 100*ratios[0], 100*ratios[4])
}

// TestReconcile50k measures a full reconcile of 50,000 Clerk users into
// SQLite and Postgres: wall time and memory, first with the emulator in
// this process (its users count in this process's RSS), then with the
// emulator in a child process (the RSS is then the reconcile's alone). It
// runs only with CLERKGATE_BENCH_RECONCILE=1 (several minutes); see
// docs/performance.md. CLERKGATE_BENCH_RECONCILE_USERS changes the number.
func TestReconcile50k(t *testing.T) {
	if os.Getenv("CLERKGATE_BENCH_RECONCILE") != "1" {
		t.Skip("CLERKGATE_BENCH_RECONCILE is not 1")
	}
	n := 50_000
	if s := os.Getenv("CLERKGATE_BENCH_RECONCILE_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	t.Run("emulator in process", func(t *testing.T) {
		emu := clerkemu.Start(t, clerkemu.Options{SigningKey: signingKey()})
		createBenchUsers(t, emu, n)
		c, err := clerkapi.New(clerkapi.Options{APIURL: emu.URL, SecretKey: emu.SecretKey(), BreakerThreshold: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		reconcileBench(t, clerkAPI{c: c}, n)
	})
	t.Run("emulator in a child process", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEmulator$", "-test.timeout=60m")
		cmd.Env = append(os.Environ(), "CLERKGATE_HELPER_EMULATOR_USERS="+strconv.Itoa(n))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stdin.Close() // the child serves until its stdin closes
			cmd.Wait()
		})
		var url, key string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "EMULATOR" {
				url, key = f[1], f[2]
				break
			}
		}
		if url == "" {
			t.Fatal("the child emulator did not start")
		}
		go io.Copy(io.Discard, stdout)
		c, err := clerkapi.New(clerkapi.Options{APIURL: url, SecretKey: key, BreakerThreshold: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		reconcileBench(t, clerkAPI{c: c}, n)
	})
}

// TestHelperEmulator is no test of its own: TestReconcile50k runs it in a
// child process, where it serves an emulator with the number of users in
// CLERKGATE_HELPER_EMULATOR_USERS until its standard input closes.
func TestHelperEmulator(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("CLERKGATE_HELPER_EMULATOR_USERS"))
	if err != nil {
		t.Skip("run by TestReconcile50k only")
	}
	emu := clerkemu.Start(t, clerkemu.Options{SigningKey: signingKey()})
	createBenchUsers(t, emu, n)
	fmt.Printf("EMULATOR %s %s\n", emu.URL, emu.SecretKey())
	io.Copy(io.Discard, os.Stdin)
}

// createBenchUsers creates n users in emu through the Go helper; one in
// ten is an admin by public metadata.
func createBenchUsers(t *testing.T, emu *clerkemu.Server, n int) {
	t.Helper()
	start := time.Now()
	for i := range n {
		p := clerkemu.UserParams{Email: fmt.Sprintf("user%06d@example.test", i), FirstName: "User", LastName: strconv.Itoa(i)}
		if i%10 == 0 {
			p.PublicMetadata = map[string]any{"role": "admin"}
		}
		if _, err := emu.CreateUser(p); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("emulator: %d users created in %s", n, time.Since(start).Round(time.Millisecond))
}

// reconcileBench reconciles n Clerk users into a fresh database of each
// engine twice (all created, then all unchanged) and logs the cost.
func reconcileBench(t *testing.T, api clerkAPI, n int) {
	for _, engine := range engines {
		if engine == "postgres" && os.Getenv(pgURLVar) == "" {
			t.Logf("postgres: skipped, %s is not set", pgURLVar)
			continue
		}
		// A syncer as the service builds it, without the fixture's record
		// of every user written (which would count in the memory figures).
		st := newDatabase(t, engine).open(t)
		syncer := usersync.New(usersync.Options{Store: st, Policy: policy.Default(), Denier: &verify.MemoryDenyList{},
			Security: security.New(st, nil, nil)})
		m := measure(t, func() {
			c, err := syncer.Reconcile(context.Background(), api, usersync.ReconcileOptions{})
			if err != nil || c.Created != n || c.Seen != n {
				t.Fatalf("%s: %v, %v", engine, c, err)
			}
		})
		t.Logf("%s: first run (all created): %s", engine, m)
		m = measure(t, func() {
			c, err := syncer.Reconcile(context.Background(), api, usersync.ReconcileOptions{})
			if err != nil || c.Unchanged != n {
				t.Fatalf("%s: %v, %v", engine, c, err)
			}
		})
		t.Logf("%s: second run (all unchanged): %s", engine, m)
	}
}

// measurement is the cost of one run.
type measurement struct {
	wall                         time.Duration
	heapBase, heapPeak, sysPeak  uint64 // HeapInuse before, highest HeapInuse and Sys during
	hwmBefore, hwmAfter, rssBase uint64 // VmHWM before (after a reset) and after, VmRSS before
	alloc                        uint64 // bytes allocated during the run
}

func (m measurement) String() string {
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	return fmt.Sprintf("wall %s; HeapInuse %s before, peak %s (+%s); Sys peak %s; VmRSS before %s, VmHWM %s (+%s); allocated %s",
		m.wall.Round(time.Millisecond), mib(m.heapBase), mib(m.heapPeak), mib(m.heapPeak-min(m.heapPeak, m.heapBase)),
		mib(m.sysPeak), mib(m.rssBase), mib(m.hwmAfter), mib(m.hwmAfter-min(m.hwmAfter, m.rssBase)), mib(m.alloc))
}

// measure runs fn and samples the Go heap every few milliseconds meanwhile;
// the peak RSS (VmHWM) is reset first where Linux allows it.
func measure(t *testing.T, fn func()) measurement {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := measurement{heapBase: ms.HeapInuse, heapPeak: ms.HeapInuse, sysPeak: ms.Sys}
	allocBefore := ms.TotalAlloc
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM to VmRSS
	m.rssBase, m.hwmBefore = procStatus("VmRSS"), procStatus("VmHWM")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			m.heapPeak = max(m.heapPeak, s.HeapInuse)
			m.sysPeak = max(m.sysPeak, s.Sys)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	start := time.Now()
	fn()
	m.wall = time.Since(start)
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	m.alloc = ms.TotalAlloc - allocBefore
	m.hwmAfter = procStatus("VmHWM")
	return m
}

// procStatus returns a field of /proc/self/status in bytes, 0 when absent.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
