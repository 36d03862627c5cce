package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.1 description of the service's HTTP API.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document (YAML) that describes every
// endpoint of the service, as GET /openapi.yaml serves it.
func OpenAPI() []byte { return bytes.Clone(openAPIDoc) }

// handleOpenAPI serves the document. Like /healthz it ignores credentials.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPIDoc)
}
