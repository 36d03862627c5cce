package clerkemu

import (
	"encoding/json"
)

// normalizeMetadata turns Go values into their JSON form (maps, slices,
// strings, json.Number, bools, nil), so that stored metadata can be copied
// and compared without surprises. Nil stays nil.
func normalizeMetadata(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return decodeObject(raw)
}

// orEmpty returns m, or an empty map for nil: metadata is always an object
// on the wire.
func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// cloneMap deep-copies JSON-shaped metadata; nil gives an empty map.
func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneValue(x)
		}
		return out
	default: // string, json.Number, bool, nil: immutable
		return v
	}
}

// deepMerge merges patch into base as Clerk's metadata PATCH does: nested
// objects merge, a null removes the key at any level, anything else
// replaces. base is not modified; the result shares nothing with either.
func deepMerge(base, patch map[string]any) map[string]any {
	out := cloneMap(base)
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			bm, _ := out[k].(map[string]any)
			out[k] = deepMerge(bm, pm)
			continue
		}
		out[k] = cloneValue(pv)
	}
	return out
}
