package redisbus

import (
	"errors"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL reads a redis:// or rediss:// URL into client options. Its
// errors never contain the URL's password.
func ParseURL(s string) (*redis.Options, error) {
	u, err := url.Parse(s)
	if err != nil { // url.Error would quote the whole URL, password included
		return nil, errors.New("not a valid URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, errors.New("not a redis:// or rediss:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("the URL has no host")
	}
	if u.Port() != "" && strings.Trim(u.Port(), "0123456789") != "" {
		return nil, errors.New("the URL's port is not a number")
	}
	opt, err := redis.ParseURL(s)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "****")
		}
		return nil, errors.New(msg)
	}
	return opt, nil
}

// CheckPrefix checks a key prefix: 1 to 64 printable ASCII characters, no
// spaces.
func CheckPrefix(p string) error {
	if p == "" || len(p) > 64 {
		return errors.New("must be 1 to 64 characters")
	}
	for _, c := range []byte(p) {
		if c <= ' ' || c > '~' {
			return errors.New("must be printable ASCII without spaces")
		}
	}
	return nil
}
