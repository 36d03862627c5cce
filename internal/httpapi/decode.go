package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/clerkgate/clerkgate"
)

// decode reads a JSON request body into v. An empty body leaves v as it is
// when allowEmpty; unknown fields, trailing data and malformed JSON are 400
// invalid_request naming the problem; a body over the limit is 413.
func decode(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &statusError{status: http.StatusRequestEntityTooLarge, msg: "the request body is too large"}
		}
		return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: "the request body could not be read"}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if allowEmpty {
			return nil
		}
		return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: "a JSON body is required"}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: describeJSONError(err)}
	}
	if dec.More() {
		return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: "unexpected data after the JSON body"}
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// statusError is an invalid request answered with a status other than 400.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string             { return e.msg }
func (e *statusError) ErrorCode() clerkgate.Code { return clerkgate.CodeInvalidRequest }
