package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/cursor"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// ListUsers implements clerkgate.UserStore.ListUsers with keyset pagination
// over (created_at, id). Query matches substrings of email, first and last
// name, case-insensitively (ILIKE); its % and _ are plain characters.
// Unlinked users come with their password digest.
func (s *Store) ListUsers(ctx context.Context, q clerkgate.UserQuery) ([]*clerkgate.User, string, error) {
	limit, err := storecheck.Limit(q.Limit)
	if err != nil {
		return nil, "", err
	}
	if !storecheck.Text(q.Query) || !storecheck.Text(q.Role) {
		return nil, "", storecheck.Invalid("query and role must be UTF-8 text without NUL characters")
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string { // the placeholder of a new argument v
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !q.IncludeDeleted {
		where = append(where, "deleted_at IS NULL")
	}
	if q.Unlinked {
		where = append(where, "clerk_user_id IS NULL")
	}
	if q.Role != "" {
		where = append(where, "role = "+arg(q.Role))
	}
	if q.Query != "" {
		p := arg("%" + escapeLike(q.Query) + "%")
		where = append(where, `(email ILIKE `+p+` ESCAPE '\' OR first_name ILIKE `+p+` ESCAPE '\' OR last_name ILIKE `+p+` ESCAPE '\')`)
	}
	if q.Cursor != "" {
		created, id, ok := cursor.Decode(q.Cursor)
		if !ok {
			return nil, "", storecheck.Invalid("invalid cursor")
		}
		where = append(where, "(created_at, id) > ("+arg(time.UnixMilli(created).UTC())+", "+arg(id)+")")
	}
	columns := userColumns
	if q.Unlinked {
		columns += ", password_digest"
	}
	query := `SELECT ` + columns + ` FROM users`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at, id LIMIT " + arg(limit+1)

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", mapError("list users", err)
	}
	defer rows.Close()
	users := make([]*clerkgate.User, 0, min(limit+1, 64))
	for rows.Next() {
		var extra []any
		var digest string
		if q.Unlinked {
			extra = append(extra, &digest)
		}
		u, err := scanUser(rows, extra...)
		if err != nil {
			return nil, "", mapError("list users", err)
		}
		u.PasswordDigest = digest
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError("list users", err)
	}
	if len(users) <= limit {
		return users, "", nil
	}
	users = users[:limit]
	last := users[limit-1]
	return users, cursor.Encode(last.CreatedAt.UnixMilli(), last.ID), nil
}

// escapeLike makes every character of s match itself in a LIKE pattern
// with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
