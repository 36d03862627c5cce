package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// Store is what an import needs of the local store.
type Store interface {
	UserByID(ctx context.Context, id string) (*clerkgate.User, error)
	ListUsers(ctx context.Context, q clerkgate.UserQuery) ([]*clerkgate.User, string, error)
	LinkClerkUser(ctx context.Context, localID string, u *clerkgate.User) (*clerkgate.User, error)
}

// Clerk is what an import needs of Clerk's Backend API (clerkapi.Client
// implements it). Errors carry the contract codes: rate_limited for a 429,
// unavailable when Clerk cannot answer, invalid_request for a 4xx about the
// request (an identifier another user holds, for one).
type Clerk interface {
	// CreateUser creates u (ExternalID, Email, names, PublicMetadata, and
	// PasswordDigest made by hasher, if any) and returns it as Clerk has it.
	CreateUser(ctx context.Context, u *clerkgate.User, hasher string) (*clerkgate.User, error)
	// UsersByExternalID returns the Clerk users with that external id.
	UsersByExternalID(ctx context.Context, externalID string) ([]*clerkgate.User, error)
	// UsersByEmail returns the Clerk users that hold that address.
	UsersByEmail(ctx context.Context, email string) ([]*clerkgate.User, error)
}

// ImportOptions configures Import. Store, Clerk and Policy are required.
type ImportOptions struct {
	Store  Store
	Clerk  Clerk
	Policy func() *policy.Policy // the role mapping of the users linked
	// DryRun changes nothing, in Clerk or in the store; it still looks
	// users up in Clerk, so that its counts say what a real run would do.
	DryRun bool
	// PasswordHasher names the algorithm of the stored password digests,
	// as Clerk's password_hasher takes it; "" means "bcrypt", whose digests
	// are checked for their shape before they are sent.
	PasswordHasher string
	// PageSize is how many local users are read at a time; 0 means 100.
	PageSize int
	// MaxAttempts bounds the tries of one user while Clerk answers 429 or
	// cannot answer; 0 means 6. Then the run stops with an error: running
	// it again resumes it.
	MaxAttempts int
	// MaxWait bounds one wait: a longer Retry-After is cut to it; 0 means
	// 30 s. Waits without a Retry-After double from 1 s.
	MaxWait time.Duration
	// RetryAfter returns the wait a 429 asked for and whether err is one
	// (clerkapi.RetryAfter); nil treats every rate_limited error as a 429
	// without a Retry-After.
	RetryAfter func(err error) (time.Duration, bool)
	// Sleep waits d or until ctx ends; nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnUser, when set, is told the outcome of each user, in order.
	OnUser func(Outcome)
}

// Actions of an Outcome.
const (
	ActionCreated = "created" // created in Clerk, then linked
	ActionLinked  = "linked"  // found in Clerk, then linked
	ActionSkipped = "skipped" // left alone on purpose
	ActionFailed  = "failed"  // could not be imported; see Reason
)

// Outcome is what happened to one local user. It holds the local id and
// no personal data, so it may be logged.
type Outcome struct {
	LocalID     string
	Action      string // ActionCreated, ActionLinked, ActionSkipped or ActionFailed
	ClerkUserID string // the Clerk user linked (or to link, in a dry run)
	Reason      string // why it was skipped or failed
}

// Counts are the totals of an import.
type Counts struct {
	Created, Linked, Skipped, Failed int
}

// String formats the counts as the summary line shows them.
func (c Counts) String() string {
	return fmt.Sprintf("created %d, linked %d, skipped %d, failed %d", c.Created, c.Linked, c.Skipped, c.Failed)
}

// bcryptShape matches a bcrypt digest in modular crypt format.
var bcryptShape = regexp.MustCompile(`^\$2[abxy]?\$[0-3][0-9]\$[./A-Za-z0-9]{53}$`)

// Import pushes the local users that have no Clerk id yet into Clerk and
// links them (SPEC §1, import-legacy), in the store's creation order:
//
//   - a banned local user is skipped: importing would give them a working
//     account;
//   - a Clerk user whose external_id is the local id is linked, never
//     created twice: this is how an interrupted run resumes;
//   - otherwise the user is created with external_id = local id, the
//     email address (Clerk marks it verified), first and last name, the
//     public metadata, to which the local role is added under the policy's
//     metadata key when it is not the default and the metadata has none,
//     and the password digest with PasswordHasher when there is one
//     (skip_password_requirement when not), then linked;
//   - when Clerk refuses the creation because the email address (or the
//     external id) is taken, the holder is looked up, and linked only if
//     its external_id is the local id, or it has none and its primary
//     address is that email and verified. Anyone else's account is never
//     taken over: the user fails with a reason;
//   - a link takes Clerk's data for the local row (the role from Clerk's
//     public metadata), and erases the local password digest.
//
// 429 answers are waited out (Retry-After, at most MaxWait) and the user
// tried again, as are answers Clerk could not give, up to MaxAttempts;
// past that, or when ctx ends, Import returns the counts so far with an
// error. A user that fails for its own reasons is counted and the run goes
// on. Every step is idempotent: running Import again finishes the job.
func Import(ctx context.Context, o ImportOptions) (Counts, error) {
	if o.Store == nil || o.Clerk == nil || o.Policy == nil {
		return Counts{}, errors.New("legacy: import needs a store, Clerk and a policy")
	}
	im := &importer{o: o}
	im.setDefaults()
	var counts Counts
	q := clerkgate.UserQuery{Unlinked: true, Limit: o.PageSize}
	for {
		users, next, err := o.Store.ListUsers(ctx, q)
		if err != nil {
			return counts, fmt.Errorf("reading local users: %w", err)
		}
		for _, u := range users {
			out, err := im.importWithRetries(ctx, u)
			if err != nil {
				return counts, err
			}
			switch out.Action {
			case ActionCreated:
				counts.Created++
			case ActionLinked:
				counts.Linked++
			case ActionSkipped:
				counts.Skipped++
			default:
				counts.Failed++
			}
			if o.OnUser != nil {
				o.OnUser(out)
			}
		}
		if next == "" {
			return counts, nil
		}
		q.Cursor = next
	}
}

// importer is one run of Import.
type importer struct {
	o ImportOptions
}

func (im *importer) setDefaults() {
	o := &im.o
	if o.PasswordHasher == "" {
		o.PasswordHasher = "bcrypt"
	}
	if o.PageSize == 0 {
		o.PageSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
	if o.RetryAfter == nil {
		o.RetryAfter = func(err error) (time.Duration, bool) {
			return 0, clerkgate.ErrorCode(err) == clerkgate.CodeRateLimited
		}
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// transient reports whether err is worth another try of the same user:
// a 429, or no usable answer from Clerk (or the store).
func transient(err error) bool {
	switch clerkgate.ErrorCode(err) {
	case clerkgate.CodeRateLimited, clerkgate.CodeUnavailable:
		return true
	}
	return false
}

// importWithRetries imports u, trying again after transient errors. Each
// try starts again from the lookup by external id, so a creation whose
// answer was lost is found rather than repeated.
func (im *importer) importWithRetries(ctx context.Context, u *clerkgate.User) (Outcome, error) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		out, err := im.importOne(ctx, u)
		if err == nil {
			return out, nil
		}
		if !transient(err) {
			return Outcome{LocalID: u.ID, Action: ActionFailed, Reason: clerkgate.ErrorMessage(err)}, nil
		}
		if attempt >= im.o.MaxAttempts {
			return Outcome{}, fmt.Errorf("user %s: giving up after %d attempts: %w", u.ID, attempt, err)
		}
		wait, limited := im.o.RetryAfter(err)
		if !limited || wait <= 0 {
			wait = backoff
			backoff *= 2
		}
		if err := im.o.Sleep(ctx, min(wait, im.o.MaxWait)); err != nil {
			return Outcome{}, fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
}

// importOne imports u once. A transient error is returned as such; any
// other failure of the user comes back as an error too and is counted.
func (im *importer) importOne(ctx context.Context, u *clerkgate.User) (Outcome, error) {
	out := Outcome{LocalID: u.ID}
	if u.Banned {
		out.Action, out.Reason = ActionSkipped, "banned locally"
		return out, nil
	}
	if u.PasswordDigest != "" && im.o.PasswordHasher == "bcrypt" && !bcryptShape.MatchString(u.PasswordDigest) {
		out.Action, out.Reason = ActionFailed, "the stored password digest is not a bcrypt digest"
		return out, nil
	}
	found, err := im.o.Clerk.UsersByExternalID(ctx, u.ID)
	if err != nil {
		return out, err
	}
	switch len(found) {
	case 0:
	case 1:
		return im.link(ctx, u, found[0], ActionLinked)
	default:
		out.Action, out.Reason = ActionFailed, "several Clerk users have this external_id"
		return out, nil
	}
	if im.o.DryRun {
		// Predict what the creation would meet: an address already held.
		if holder, err := im.emailHolder(ctx, u); err != nil || holder != nil {
			if err != nil {
				return out, err
			}
			return im.linkHolder(ctx, u, holder)
		}
		out.Action = ActionCreated
		return out, nil
	}
	created, err := im.o.Clerk.CreateUser(ctx, im.newClerkUser(u), im.o.PasswordHasher)
	switch {
	case err == nil:
		return im.link(ctx, u, created, ActionCreated)
	case clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest:
		return out, err
	}
	// Refused: an identifier may be taken, by a run that got here first
	// (the external id) or by someone who signed up (the email).
	refusal := err
	if found, err := im.o.Clerk.UsersByExternalID(ctx, u.ID); err != nil || len(found) == 1 {
		if err != nil {
			return out, err
		}
		return im.link(ctx, u, found[0], ActionLinked)
	}
	holder, err := im.emailHolder(ctx, u)
	if err != nil {
		return out, err
	}
	if holder != nil {
		return im.linkHolder(ctx, u, holder)
	}
	out.Action, out.Reason = ActionFailed, "Clerk refused the user: "+clerkgate.ErrorMessage(refusal)
	return out, nil
}

// emailHolder returns the Clerk user that holds u's email address, or nil.
func (im *importer) emailHolder(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
	if u.Email == "" {
		return nil, nil
	}
	holders, err := im.o.Clerk.UsersByEmail(ctx, u.Email)
	if err != nil || len(holders) == 0 {
		return nil, err
	}
	return holders[0], nil
}

// linkHolder links u to the Clerk user that holds its email address, if
// that user is u: its external_id is u's id, or it has none and its
// primary address is u's, verified.
func (im *importer) linkHolder(ctx context.Context, u, holder *clerkgate.User) (Outcome, error) {
	mine := holder.ExternalID == u.ID ||
		holder.ExternalID == "" && holder.EmailVerified && strings.EqualFold(holder.Email, u.Email)
	if !mine {
		return Outcome{LocalID: u.ID, Action: ActionFailed,
			Reason: "the email address belongs to another Clerk user (another external_id, or not its verified primary address)"}, nil
	}
	return im.link(ctx, u, holder, ActionLinked)
}

// link links the local user u to the Clerk user c. A user linked to c in
// the meantime (by a webhook or a sync run) counts as done.
func (im *importer) link(ctx context.Context, u, c *clerkgate.User, action string) (Outcome, error) {
	out := Outcome{LocalID: u.ID, Action: action, ClerkUserID: c.ClerkUserID}
	if im.o.DryRun {
		return out, nil
	}
	linked := *c
	linked.Role = im.o.Policy().StoredRole(c.PublicMetadata)
	_, err := im.o.Store.LinkClerkUser(ctx, u.ID, &linked)
	if clerkgate.ErrorCode(err) == clerkgate.CodeConflict {
		if now, gerr := im.o.Store.UserByID(ctx, u.ID); gerr == nil && now.ClerkUserID == c.ClerkUserID {
			return out, nil
		}
		out.Action, out.Reason = ActionFailed, "the Clerk user "+c.ClerkUserID+" is linked to another local user, or this user was deleted"
		return out, nil
	}
	if err != nil {
		return out, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "linking the user failed", Err: err}
	}
	return out, nil
}

// newClerkUser is what Clerk is given for the local user u.
func (im *importer) newClerkUser(u *clerkgate.User) *clerkgate.User {
	return &clerkgate.User{
		ExternalID:     u.ID,
		Email:          u.Email,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		PublicMetadata: im.metadataWithRole(u),
		PasswordDigest: u.PasswordDigest,
	}
}

// metadataWithRole is u's public metadata with its role under the policy's
// metadata key, unless the role is the default one or the metadata names a
// role already. Metadata that is not a JSON object is left out.
func (im *importer) metadataWithRole(u *clerkgate.User) json.RawMessage {
	var md map[string]json.RawMessage
	if len(u.PublicMetadata) > 0 && json.Unmarshal(u.PublicMetadata, &md) != nil {
		md = nil
	}
	roles := im.o.Policy().Roles
	if u.Role != "" && u.Role != roles.Default && roles.MetadataKey != "" {
		if _, ok := md[roles.MetadataKey]; !ok {
			if md == nil {
				md = map[string]json.RawMessage{}
			}
			md[roles.MetadataKey], _ = json.Marshal(u.Role)
		}
	}
	if md == nil {
		return nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil
	}
	return b
}
