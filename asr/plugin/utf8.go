package plugin

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Protobuf refuses to marshal a string field that is not valid UTF-8, and one process's
// recognitions share one gRPC stream: a message that cannot be marshalled breaks the stream for
// every call on the process (a request's bad header value), or, from the plugin's side, stops
// every later event while the process still answers pings. So strings are checked before they
// are batched: a request's is refused on its own (invalidUTF8), an engine's is repaired (fixUTF8).

// invalidUTF8 names the first string field of m, as a path of field names, that is not valid
// UTF-8; "" when there is none.
func invalidUTF8(m protoreflect.Message) string {
	var bad string
	walkStrings(m, "", func(path, s string) (string, bool) {
		if bad == "" && !utf8.ValidString(s) {
			bad = path
		}
		return s, false
	})
	return bad
}

// fixUTF8 replaces the invalid bytes of every string field of m with U+FFFD and reports whether
// it changed any.
func fixUTF8(m protoreflect.Message) bool {
	changed := false
	walkStrings(m, "", func(_, s string) (string, bool) {
		if utf8.ValidString(s) {
			return s, false
		}
		changed = true
		return strings.ToValidUTF8(s, "\uFFFD"), true
	})
	return changed
}

// walkStrings calls f on every string of m (fields, list elements, map keys and values, in
// nested messages too); f returns a replacement and whether to store it.
func walkStrings(m protoreflect.Message, prefix string, f func(path, s string) (string, bool)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			walkList(v.List(), fd, path, f)
		case fd.IsMap():
			walkMap(v.Map(), fd, path, f)
		case fd.Kind() == protoreflect.StringKind:
			if s, set := f(path, v.String()); set {
				m.Set(fd, protoreflect.ValueOfString(s))
			}
		case fd.Message() != nil:
			walkStrings(v.Message(), path+".", f)
		}
		return true
	})
}

func walkList(l protoreflect.List, fd protoreflect.FieldDescriptor, path string, f func(path, s string) (string, bool)) {
	for i := range l.Len() {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if s, set := f(path, l.Get(i).String()); set {
				l.Set(i, protoreflect.ValueOfString(s))
			}
		case fd.Message() != nil:
			walkStrings(l.Get(i).Message(), path+".", f)
		}
	}
}

func walkMap(mp protoreflect.Map, fd protoreflect.FieldDescriptor, path string, f func(path, s string) (string, bool)) {
	type entry struct {
		k protoreflect.MapKey
		v protoreflect.Value
	}
	var replace []entry
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		nk, nv, changed := k, v, false
		if fd.MapKey().Kind() == protoreflect.StringKind {
			if s, set := f(path+"[key]", k.String()); set {
				nk, changed = protoreflect.ValueOfString(s).MapKey(), true
			}
		}
		switch {
		case fd.MapValue().Kind() == protoreflect.StringKind:
			if s, set := f(path+"["+strings.ToValidUTF8(k.String(), "?")+"]", v.String()); set {
				nv, changed = protoreflect.ValueOfString(s), true
			}
		case fd.MapValue().Message() != nil:
			walkStrings(v.Message(), path+".", f)
		}
		if changed {
			mp.Clear(k)
			replace = append(replace, entry{nk, nv})
		}
		return true
	})
	for _, e := range replace {
		mp.Set(e.k, e.v)
	}
}
