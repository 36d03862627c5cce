// Package clerkemu is an in-memory emulator of Clerk (clerk.com): a subset of
// the Backend API under /v1, the instance's JSON Web Key Set, and session
// tokens signed exactly like Clerk's version 2 tokens.
//
// It is faithful enough that the official SDKs work against it unchanged:
// github.com/clerk/clerk-sdk-go/v2 with the base URL ending in /v1 (use
// [Server.APIURL]) and @clerk/backend with apiUrl set to [Server.URL]. Shapes
// follow Clerk's OpenAPI description of the Backend API, version 2026-05-12:
// timestamps in Unix milliseconds, errors as
// {"errors":[{"code","message","long_message","meta"}],"clerk_trace_id"},
// and every answer labelled exactly "application/json".
//
// A test starts one with a single call:
//
//	srv := clerkemu.Start(t, clerkemu.Options{})
//	u, _ := srv.CreateUser(clerkemu.UserParams{Email: "alice@example.com"})
//	s, _ := srv.CreateSession(u.ID, "")
//	tok, _ := srv.SessionToken(s.ID, 0)
//
// The Go helpers (CreateUser, CreateOrganization, AddMembership,
// CreateSession, SessionToken, ...) have the same effect as the matching
// Backend API calls; [Emulator.Sign] signs arbitrary claims with the current
// key, for tests that need expired, forged or otherwise hostile tokens.
//
// Served routes, all behind "Authorization: Bearer <secret key>":
//
//	GET    /v1/jwks
//	GET    /v1/users                      POST /v1/users
//	GET    /v1/users/count
//	GET    /v1/users/{id}                 PATCH, DELETE /v1/users/{id}
//	PATCH  /v1/users/{id}/metadata        PUT /v1/users/{id}/metadata
//	POST   /v1/users/{id}/ban|unban|lock|unlock
//	GET    /v1/users/{id}/organization_memberships
//	GET    /v1/sessions                   POST /v1/sessions
//	GET    /v1/sessions/{id}
//	POST   /v1/sessions/{id}/revoke
//	POST   /v1/sessions/{id}/tokens       POST /v1/sessions/{id}/tokens/{template}
//	GET    /v1/organizations              POST /v1/organizations
//	GET    /v1/organizations/{id}         PATCH, DELETE /v1/organizations/{id}
//	GET    /v1/organizations/{id}/memberships
//	POST   /v1/organizations/{id}/memberships
//
// Emulator-only extensions: POST /v1/sessions accepts "status":"pending"
// (the session's tokens then carry sts=pending), "actor" (an impersonator,
// the tokens' act claim) and "azp" (the tokens' authorized party). No JWT
// templates exist, so a token request naming one answers 404.
//
// Control endpoint, outside /v1 and behind the same secret key:
//
//	GET, PUT, POST, DELETE /__emulator/faults
//
// It shows, sets and clears the [Faults] that make GET /v1/jwks or the rest
// of /v1 fail, slow or down; [Emulator.SetFaults] does the same from Go.
//
// # Events and webhooks
//
// Every change is reported to [Options.OnEvent] with the Clerk webhook event
// type it corresponds to: user.created|updated|deleted,
// session.created|pending|ended|removed|revoked,
// organization.created|updated|deleted and
// organizationMembership.created|updated|deleted. The same events are sent
// as webhooks to [Options.Webhooks] and [Emulator.AddWebhookEndpoint]'s
// endpoints, as Svix sends Clerk's: the body
//
//	{"data":{...},"object":"event","type":"user.created","timestamp":<ms>,
//	 "instance_id":"ins_...","event_attributes":{"http_request":{"client_ip":"...","user_agent":"..."}}}
//
// signed with the headers svix-id (a "msg_" id, the same on every retry and
// endpoint), svix-timestamp (the emulator clock's time of the attempt, in
// seconds) and svix-signature, retried on Svix's schedule
// ([WebhookSchedule], scaled by [Options.WebhookRetryScale]) until a 2xx
// answer, then given up. [WebhookKnobs] add duplicates, reordering, delays
// and stale timestamps; [Emulator.WebhookStats] and [Emulator.WaitWebhooks]
// let tests see and await the deliveries. An emulator with endpoints must
// be closed ([Emulator.Close]; [Start] arranges it).
//
// An Emulator is safe for concurrent use.
//
// State lives in memory. [Emulator.Snapshot] writes all of it (users,
// organizations, memberships, sessions, signing keys, secret key) as a
// versioned JSON document that [Options.State] restores, so that a restarted
// emulator keeps its records and tokens signed before the restart still
// verify; [Emulator.SaveFile] and [LoadFile] keep it in a file. The document
// holds secrets: store it with mode 0600, as SaveFile does. Webhook
// endpoints (with their signing secrets), knobs and faults are
// configuration, not state: the document holds none of them, and the instance id the webhooks
// carry is derived from the secret key, so a restored emulator keeps it.
//
// [Emulator.Seed] creates users and organizations from a YAML or JSON seed
// document (its doc comment shows the format; testdata/seed.yaml is an
// example). Seeding keeps the records that exist, so the same seed can be
// loaded on every start of a restored emulator.
package clerkemu
