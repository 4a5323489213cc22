package mrcp

import "unicode/utf8"

// ValidateField checks one field of a message for resource r: a header RFC 6787 defines only for
// another resource is a 403 *StatusError (unsupported header field, §5.4); a value of the wrong
// syntax is a 404 *StatusError wrapping the *HeaderError. Names RFC 6787 does not define here
// (extension and verifier headers) pass: the resource ignores them. A value that is not UTF-8
// (RFC 6787 §5: MRCPv2 text is UTF-8) is a 404 whatever the header: such a value would reach
// engines, loggers and plugins that all assume UTF-8.
func ValidateField(r Resource, f Field) error {
	if !utf8.ValidString(f.Value) {
		return &StatusError{Code: Status404, Header: f.Name, Reason: "value is not UTF-8", err: ErrMalformed}
	}
	spec := lookupSpec(f.Name)
	if spec == nil {
		return nil
	}
	if !spec.AllowedOn(r) {
		return &StatusError{Code: Status403, Header: f.Name, Reason: "not a header of the " + string(r) + " resource", err: ErrUnsupportedHeader}
	}
	if err := spec.Check(f.Value); err != nil {
		return &StatusError{Code: Status404, Header: f.Name, Reason: err.(*HeaderError).Reason, err: err}
	}
	return nil
}

// Validate runs ValidateField over every field and returns the first failure.
func (h *Header) Validate(r Resource) error {
	for _, f := range h.Fields {
		if err := ValidateField(r, f); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the header of m for the resource named by its Channel-Identifier. GET-PARAMS
// lists the fields it asks for with empty values (§6.1), which are not checked.
func (m *Message) Validate() error {
	r := m.Resource()
	for _, f := range m.Header.Fields {
		if f.Value == "" && m.Kind == KindRequest && m.Name == MethodGetParams {
			if spec := lookupSpec(f.Name); spec != nil && !spec.AllowedOn(r) {
				return &StatusError{Code: Status403, Header: f.Name, Reason: "not a header of the " + string(r) + " resource", err: ErrUnsupportedHeader}
			}
			continue
		}
		if err := ValidateField(r, f); err != nil {
			return err
		}
	}
	return nil
}

// Check validates a value against the header's type; the error is a *HeaderError.
func (s *HeaderSpec) Check(v string) error {
	var err error
	switch s.Type {
	case TypeBool:
		_, err = parseBool(s.Name, v)
	case TypeUint:
		_, err = parseUint(s.Name, v)
	case TypeMillis:
		_, err = parseMillis(s.Name, v)
	case TypeFraction:
		_, err = parseFraction(s.Name, v)
	case TypeFloat:
		_, err = parseFloat(s.Name, v)
	case TypeRequestIDList:
		_, err = parseRequestIDs(s.Name, v)
	case TypeVendorParams:
		_, err = parseVendorParams(s.Name, v)
	case TypeCause:
		_, _, err = parseCause(s.Name, v)
	case TypeDTMFChar:
		_, err = parseDTMFChar(s.Name, v)
	case TypeEnum:
		for _, e := range s.Enum {
			if equalFold(e, v) {
				return nil
			}
		}
		err = &HeaderError{Name: s.Name, Value: v, Reason: "want one of " + joinEnum(s.Enum)}
	}
	return err
}

func joinEnum(e []string) string {
	s := ""
	for i, v := range e {
		if i > 0 {
			s += ", "
		}
		s += v
	}
	return s
}

// MethodAllowed reports whether resource r defines method (RFC 6787 §6.1 generic methods, §8.2
// synthesizer, §9.2 recognizer, §10.2 recorder); a server answers other methods 401. Resources
// without a table here (speakverify) allow every method.
func MethodAllowed(r Resource, method string) bool {
	switch method {
	case MethodSetParams, MethodGetParams:
		return true
	}
	switch resourceClass(r) {
	case classSynth:
		switch method {
		case MethodSpeak, MethodStop, MethodPause, MethodResume, MethodBargeInOccurred, MethodControl, MethodDefineLexicon:
			return true
		}
	case classRecog:
		switch method {
		case MethodDefineGrammar, MethodRecognize, MethodInterpret, MethodGetResult, MethodStartInputTimers, MethodStop,
			MethodStartPhraseEnrollment, MethodEnrollmentRollback, MethodEndPhraseEnrollment, MethodModifyPhrase, MethodDeletePhrase:
			return true
		}
	case classRecord:
		switch method {
		case MethodRecord, MethodStop, MethodStartInputTimers:
			return true
		}
	default:
		return true
	}
	return false
}
