package verify_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

func ExampleWebhook_Verify() {
	// The secret comes from the Clerk dashboard (CLERK_WEBHOOK_SIGNING_SECRET);
	// during a rotation it holds several, separated by spaces.
	secrets := verify.ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	w, err := verify.NewWebhook(secrets, verify.WebhookOptions{
		// A fixed clock for the example; leave Now nil in production.
		Now: func() time.Time { return time.Unix(1614265330, 0) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	header := http.Header{}
	header.Set("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("svix-timestamp", "1614265330")
	header.Set("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	msgID, err := w.Verify(header, []byte(`{"test": 2432232314}`))
	fmt.Println(msgID, err)

	_, err = w.Verify(header, []byte(`{"test": 1}`))
	fmt.Println(errors.Is(err, verify.ErrWebhookSignature), verify.Reason(err))
	// Output:
	// msg_p5jXN8AQM9LWM0D4loKWxJek <nil>
	// true no_matching_signature
}

// A handler verifies the raw bytes before it parses anything.
func ExampleWebhook_handler() {
	w, err := verify.NewWebhook(verify.ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), verify.WebhookOptions{})
	if err != nil {
		panic(err)
	}
	_ = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 512<<10))
		if err != nil {
			http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		msgID, err := w.Verify(r.Header, body)
		if err != nil {
			// 400 webhook_signature_invalid (503 if not configured);
			// log verify.Reason(err), never the body.
			code := clerkgate.ErrorCode(err)
			http.Error(rw, string(code), code.Status())
			return
		}
		_ = msgID // the idempotency key; now parse and store body
		rw.WriteHeader(http.StatusNoContent)
	})
}
