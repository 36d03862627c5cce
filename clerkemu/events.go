package clerkemu

import (
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"time"
)

// Event is one change inside the emulator, named like the Clerk webhook
// event it corresponds to.
type Event struct {
	// Type is the Clerk event type, e.g. "user.created", "session.revoked",
	// "organizationMembership.deleted".
	Type string
	// Data is the event's data object, a snapshot taken when the change was
	// made; json.Marshal(Data) is the webhook's "data". It is a [User] for
	// user.created and user.updated, a [SessionEvent] (the session and its
	// user) for session.*, an [Organization] for organization.created and
	// organization.updated, an [OrganizationMembership] for
	// organizationMembership.* (deleted included: the membership as it was),
	// and a [DeletedObject] for user.deleted and organization.deleted.
	Data any
	// Time is the emulator clock's time of the change.
	Time time.Time
	// Request is the Backend API request that made the change; it is zero
	// when a Go helper made it.
	Request EventRequest
}

// EventRequest describes the HTTP request behind an event, as Clerk reports
// it in the webhook's event_attributes.http_request.
type EventRequest struct {
	// ClientIP is the address of the client, without the port.
	ClientIP string
	// UserAgent is the client's User-Agent header.
	UserAgent string
}

// requestOf returns the event attributes of a Backend API request.
func requestOf(r *http.Request) EventRequest {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return EventRequest{ClientIP: ip, UserAgent: r.UserAgent()}
}

// SessionEvent is the data of the session.* events: the session's fields
// and, as Clerk sends them, the session's user under "user".
type SessionEvent struct {
	Session
	// User is the session's user at the time of the event.
	User User `json:"user"`
}

// MarshalJSON encodes the session's fields and "user". A null "tasks" is
// left out: Clerk's webhook schema for sessions has no such member (a
// pending session's tasks are kept).
func (s SessionEvent) MarshalJSON() ([]byte, error) {
	type wire struct {
		Session
		Tasks []SessionTask `json:"tasks,omitempty"`
		User  User          `json:"user"`
	}
	return json.Marshal(wire{Session: s.Session, Tasks: s.Tasks, User: s.User})
}

// sessionEvent returns the data of a session event; the caller holds the
// lock and the session's user exists.
func (t *tx) sessionEvent(rec *sessionRecord) SessionEvent {
	ev := SessionEvent{Session: rec.snapshot(t.now)}
	if u, ok := t.e.users[rec.s.UserID]; ok {
		ev.User = u.snapshot()
	}
	return ev
}

// envelope is a webhook's body, members in Clerk's order.
type envelope struct {
	Data            any             `json:"data"`
	Object          string          `json:"object"`
	Type            string          `json:"type"`
	Timestamp       int64           `json:"timestamp"`
	InstanceID      string          `json:"instance_id"`
	EventAttributes eventAttributes `json:"event_attributes"`
}

type eventAttributes struct {
	HTTPRequest httpRequestAttributes `json:"http_request"`
}

type httpRequestAttributes struct {
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

// webhookBody encodes ev as the body of its webhook: the data, "object":
// "event", the type, the time in Unix milliseconds, the instance id and the
// request's attributes.
func (e *Emulator) webhookBody(ev Event) ([]byte, error) {
	return json.Marshal(envelope{
		Data:       ev.Data,
		Object:     "event",
		Type:       ev.Type,
		Timestamp:  millis(ev.Time),
		InstanceID: e.instanceID,
		EventAttributes: eventAttributes{HTTPRequest: httpRequestAttributes{
			ClientIP: ev.Request.ClientIP, UserAgent: ev.Request.UserAgent}},
	})
}

// InstanceID returns the instance id ("ins_...") that webhooks carry. It is
// derived from the secret key, so a restored emulator keeps it.
func (e *Emulator) InstanceID() string { return e.instanceID }

// deriveInstanceID returns "ins_" and 27 base62 characters of a hash of the
// secret key.
func deriveInstanceID(secretKey string) string {
	sum := sha256.Sum256([]byte("clerkemu instance id\x00" + secretKey))
	s := new(big.Int).SetBytes(sum[:]).Text(62)
	for len(s) < 27 {
		s = "0" + s
	}
	return "ins_" + s[:27]
}
