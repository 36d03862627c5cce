package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/session"
	"github.com/clerk/clerk-sdk-go/v2/user"
)

const (
	defaultEmulatorURL = "http://127.0.0.1:8081"
	minTokenTTL        = 30 * time.Second
	apiTimeout         = 10 * time.Second
)

// tokenConfig is the configuration of "clerkgate token".
type tokenConfig struct {
	APIURL    string // without /v1
	SecretKey string
	User      string // user_... or an email address
	Org       string
	TTL       time.Duration
}

// parseTokenConfig reads the flags and the environment. helped reports
// that -h was given and the usage printed.
func parseTokenConfig(args []string, getenv func(string) string, stdout io.Writer) (cfg tokenConfig, helped bool, err error) {
	fs := newFlagSet("token", "--user USER [flags]",
		"Prints a session token (a JWT and a newline, nothing else) for a user of a\n"+
			"running emulator, for curl and scripts:\n\n"+
			"  curl -H \"Authorization: Bearer $(clerkgate token --user alice@example.com)\" ...\n\n"+
			"It creates a session for the user (in the organization given with --org)\n"+
			"and a token for that session through the Backend API.")
	fs.StringVar(&cfg.APIURL, "api-url", "", "Backend API base `URL`, without /v1 (default $CLERK_API_URL, else "+defaultEmulatorURL+")")
	fs.StringVar(&cfg.SecretKey, "secret-key", "", "Backend API secret `key` sk_... (default $CLERK_SECRET_KEY; required)")
	fs.StringVar(&cfg.User, "user", "", "the `user`: a user id user_... or an email address (required)")
	fs.StringVar(&cfg.Org, "org", "", "organization `id` to make the session's active organization")
	fs.DurationVar(&cfg.TTL, "ttl", time.Hour, "lifetime of the token, at least 30s")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return cfg, helped, err
	}

	var errs []error
	if cfg.APIURL == "" {
		cfg.APIURL = strings.TrimSpace(getenv("CLERK_API_URL"))
	}
	if cfg.APIURL == "" {
		cfg.APIURL = defaultEmulatorURL
	}
	cfg.APIURL = apiBase(cfg.APIURL)
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("--api-url (or CLERK_API_URL): not an http(s) URL"))
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = strings.TrimSpace(getenv("CLERK_SECRET_KEY"))
	}
	switch {
	case cfg.SecretKey == "":
		errs = append(errs, errors.New("--secret-key or CLERK_SECRET_KEY is required"))
	case !strings.HasPrefix(cfg.SecretKey, "sk_"):
		errs = append(errs, errors.New("--secret-key (or CLERK_SECRET_KEY): must start with sk_"))
	}
	switch {
	case cfg.User == "":
		errs = append(errs, errors.New("--user is required"))
	case !strings.HasPrefix(cfg.User, "user_") && !strings.Contains(cfg.User, "@"):
		errs = append(errs, errors.New("--user: must be a user id (user_...) or an email address"))
	}
	if cfg.TTL < minTokenTTL {
		errs = append(errs, fmt.Errorf("--ttl: %s is shorter than the minimum of %s", cfg.TTL, minTokenTTL))
	}
	return cfg, false, joinErrors("token", errs)
}

// runToken prints a session token for a user of an emulator.
func runToken(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, helped, err := parseTokenConfig(args, getenv, stdout)
	if helped || err != nil {
		return err
	}
	jwt, err := sessionToken(ctx, cfg)
	if err != nil {
		// The key is never part of an error on purpose; this is the
		// last line of defence against a server that echoes it.
		return errors.New(strings.ReplaceAll("token: "+err.Error(), cfg.SecretKey, "[redacted]"))
	}
	_, err = fmt.Fprintln(stdout, jwt)
	return err
}

// sessionToken creates a session for the configured user and returns a
// token for it, through the official Go SDK with a client of its own (no
// package-level SDK state).
func sessionToken(ctx context.Context, cfg tokenConfig) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	config := &clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		HTTPClient: &http.Client{Timeout: apiTimeout},
		URL:        clerk.String(cfg.APIURL + "/v1"),
		Key:        clerk.String(cfg.SecretKey),
	}}
	users := user.NewClient(config)
	sessions := session.NewClient(config)

	userID := cfg.User
	if strings.Contains(cfg.User, "@") {
		list, err := users.List(ctx, &user.ListParams{EmailAddresses: []string{cfg.User}})
		if err != nil {
			return "", fmt.Errorf("looking up the user by email address: %s", describeAPIError(err))
		}
		switch len(list.Users) {
		case 0:
			return "", errors.New("no user has that email address")
		case 1:
			userID = list.Users[0].ID
		default:
			return "", fmt.Errorf("%d users have that email address; pass --user with a user id", len(list.Users))
		}
	}

	sess, err := createSession(ctx, sessions, userID, cfg.Org)
	if err != nil {
		return "", fmt.Errorf("creating a session: %s", describeAPIError(err))
	}
	tok, err := sessions.CreateToken(ctx, &session.CreateTokenParams{
		ID:               sess.ID,
		ExpiresInSeconds: clerk.Int64(int64(cfg.TTL / time.Second)),
	})
	if err != nil {
		return "", fmt.Errorf("creating a session token: %s", describeAPIError(err))
	}
	if tok.JWT == "" {
		return "", errors.New("creating a session token: the answer has no jwt")
	}
	return tok.JWT, nil
}

// createSessionParams is the body of POST /v1/sessions. The SDK's
// session.CreateParams has no active_organization_id, so the call goes
// through the SDK client's backend with this body instead: same
// authentication, headers and error decoding as every other SDK call.
type createSessionParams struct {
	clerk.APIParams
	UserID               string `json:"user_id"`
	ActiveOrganizationID string `json:"active_organization_id,omitempty"`
}

func createSession(ctx context.Context, c *session.Client, userID, orgID string) (*clerk.Session, error) {
	req := clerk.NewAPIRequest(http.MethodPost, "/sessions")
	req.SetParams(&createSessionParams{UserID: userID, ActiveOrganizationID: orgID})
	sess := &clerk.Session{}
	if err := c.Backend.Call(ctx, req, sess); err != nil {
		return nil, err
	}
	if sess.ID == "" {
		return nil, errors.New("the answer has no session id")
	}
	return sess, nil
}

// describeAPIError turns an SDK error into a short sentence: the HTTP
// status and Clerk's error code and message rather than the JSON dump the
// SDK's Error method gives.
func describeAPIError(err error) string {
	var apiErr *clerk.APIErrorResponse
	if !errors.As(err, &apiErr) {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			// Not urlErr.Error(): the URL may hold an email address.
			return "cannot reach the Backend API: " + urlErr.Err.Error()
		}
		return truncate(err.Error(), 200)
	}
	msg := fmt.Sprintf("the Backend API answered %d", apiErr.HTTPStatusCode)
	if len(apiErr.Errors) > 0 {
		e := apiErr.Errors[0]
		msg += ": " + e.Code
		if e.Message != "" {
			msg += ": " + e.Message
		}
	}
	return msg
}

// truncate shortens s to at most n bytes, for bodies that a server that is
// not the Backend API may send.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
