package usersync

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// User events are the bulk of webhook traffic, so each costs one
// transaction: the store records the message and stores the user together
// (UserEventStore), and the message id's record is the idempotency check
// (a duplicate conflicts there and writes nothing), with no read before.
// The rare cases go back to the syncer, which decides them and saves again
// in a transaction of their own: a Clerk user not stored yet may be a
// legacy user to link first; two versions with one updated_at are settled
// by asking Clerk.

// handleUser applies user.created or user.updated, whose user is cu, and
// records the message with it.
func (s *Syncer) handleUser(ctx context.Context, m Message, out Outcome, cu *clerk.User, rec clerkgate.WebhookRecord) (Outcome, error) {
	if !strings.HasPrefix(cu.ID, "user_") || cu.UpdatedAt <= 0 || cu.CreatedAt <= 0 {
		return s.unusable(ctx, m, rec.BodySHA256, out, invalidEvent("the user in the event lacks id, created_at or updated_at"))
	}
	ev := clerkgate.UserEvent{User: clerkapi.ConvertUser(cu), Record: rec, ReportAbsent: true, ReportTie: s.o.Fetch != nil}
	res, err := s.saveEvent(ctx, ev)
	if err == nil && res.Absent {
		// Not stored yet: the local user it is, if any, is linked
		// first, as reconcile does.
		var linked bool
		if linked, err = s.linkNew(ctx, ev.User); err != nil {
			return out, storeError(err)
		} else if linked {
			return s.recordOnly(ctx, m, out, rec, ResultProcessed)
		}
		ev.ReportAbsent = false
		res, err = s.saveEvent(ctx, ev)
	}
	if err == nil && res.Tie {
		current := s.settleTie(ctx, ev.User)
		if current == nil { // Clerk says the user is gone; user.deleted follows
			return s.recordOnly(ctx, m, out, rec, ResultStale)
		}
		ev.User, ev.ReportTie = current, false
		res, err = s.saveEvent(ctx, ev)
	}
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeInvalidRequest:
		return s.unusable(ctx, m, rec.BodySHA256, out, storeError(err))
	case err != nil:
		return out, storeError(err)
	case res.Duplicate:
		return s.duplicateOf(ctx, m, rec.BodySHA256, out)
	}
	if !res.Changed && (res.User.Deleted() || res.User.ClerkUpdatedAt > ev.User.ClerkUpdatedAt) {
		out.Result = ResultStale
		return out, nil
	}
	if s.o.ObserveLag != nil {
		s.o.ObserveLag(s.o.Now().Sub(time.UnixMilli(ev.User.ClerkUpdatedAt)))
	}
	s.recordUserChange(ctx, m, res)
	out.Result = ResultProcessed
	return out, nil
}

// recordUserChange records the security events of a change made in Clerk:
// a ban (user_banned) and a new role (role_changed), as the admin API
// records its own.
func (s *Syncer) recordUserChange(ctx context.Context, m Message, res clerkgate.UserEventResult) {
	prev, u := res.Previous, res.User
	if !res.Changed || prev == nil || u == nil || u.Deleted() {
		return
	}
	ev := clerkgate.SecurityEvent{UserID: u.ID, IP: m.IP, RequestID: m.RequestID}
	if u.Banned && !prev.Banned {
		ev.Kind = clerkgate.EventUserBanned
		s.o.Security.Record(ctx, ev, map[string]any{"clerk_user_id": u.ClerkUserID, "source": "webhook"})
	}
	if u.Role != prev.Role {
		ev.Kind = clerkgate.EventRoleChanged
		s.o.Security.Record(ctx, ev, map[string]any{"clerk_user_id": u.ClerkUserID, "from": prev.Role, "to": u.Role, "source": "webhook"})
	}
}

// settleTie returns the user to store for an event's u when the stored
// row has u's version but other data: the event cannot say which of the
// two is Clerk's latest, so Clerk is asked. Its answer is stored (it is as
// new or newer), or, when Clerk says the user is gone, nothing is (nil;
// the user.deleted event follows). When Clerk cannot be reached, the
// event's data is stored as before; reconcile runs settle it later.
func (s *Syncer) settleTie(ctx context.Context, u *clerkgate.User) *clerkgate.User {
	current, err := s.o.Fetch(ctx, u.ClerkUserID)
	switch {
	case err == nil && current.ClerkUpdatedAt >= u.ClerkUpdatedAt:
		return current
	case clerkgate.ErrorCode(err) == clerkgate.CodeNotFound:
		return nil
	}
	return u
}

// handleUserDeleted tombstones the user of user.deleted and records the
// message with it.
func (s *Syncer) handleUserDeleted(ctx context.Context, m Message, out Outcome, data json.RawMessage, rec clerkgate.WebhookRecord) (Outcome, error) {
	var d struct {
		ID      string `json:"id"`
		Deleted *bool  `json:"deleted"`
	}
	if err := json.Unmarshal(data, &d); err != nil || !strings.HasPrefix(d.ID, "user_") {
		return s.unusable(ctx, m, rec.BodySHA256, out, invalidEvent("the deleted user in the event lacks an id"))
	}
	res, err := s.saveEvent(ctx, clerkgate.UserEvent{User: s.tombstoneOf(d.ID), Record: rec})
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeInvalidRequest:
		return s.unusable(ctx, m, rec.BodySHA256, out, storeError(err))
	case err != nil:
		return out, storeError(err)
	case res.Duplicate:
		return s.duplicateOf(ctx, m, rec.BodySHA256, out)
	case !res.Changed:
		out.Result = ResultDuplicate // deleted already
		return out, nil
	}
	s.o.Security.Record(ctx, clerkgate.SecurityEvent{Kind: clerkgate.EventUserDeleted, UserID: res.User.ID, IP: m.IP, RequestID: m.RequestID},
		map[string]any{"clerk_user_id": d.ID, "source": "webhook"})
	out.Result = ResultProcessed
	return out, nil
}

// saveEvent stores a user event with the user's role, and tells the
// caches and the deny list as saveUser does.
func (s *Syncer) saveEvent(ctx context.Context, ev clerkgate.UserEvent) (clerkgate.UserEventResult, error) {
	ev.User.Role = s.o.PolicyFunc().StoredRole(ev.User.PublicMetadata)
	res, err := s.o.Store.SaveClerkUserEvent(ctx, ev)
	if err == nil && res.User != nil {
		s.stored(res.User, res.Changed)
	}
	return res, err
}

// duplicateOf is the outcome of a message whose record turned out to
// exist when its event was saved: the record is read now, and only now, to
// tell a retry from a replay.
func (s *Syncer) duplicateOf(ctx context.Context, m Message, digest []byte, out Outcome) (Outcome, error) {
	known, err := s.o.Store.WebhookRecord(ctx, m.ID)
	if err != nil {
		// Records are never removed while their messages can come
		// back, so this is a store failure; the sender retries.
		return out, unavailable(err)
	}
	return s.duplicate(ctx, m, digest, known), nil
}

// recordOnly records a message whose change was stored otherwise (a
// link) or needs none, with result as its result; a record that exists
// by now (a concurrent delivery of the same message) makes it a duplicate.
func (s *Syncer) recordOnly(ctx context.Context, m Message, out Outcome, rec clerkgate.WebhookRecord, result string) (Outcome, error) {
	inserted, err := s.o.Store.SaveWebhookRecord(ctx, rec)
	switch {
	case err != nil:
		return out, storeError(err)
	case !inserted:
		return s.duplicateOf(ctx, m, rec.BodySHA256, out)
	}
	out.Result = result
	return out, nil
}
