package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// WebhookRequest is what a webhook step POSTs.
type WebhookRequest struct {
	Flow       string            `json:"flow"`
	Step       string            `json:"step"`
	CallUUID   string            `json:"call_uuid,omitempty"`
	Vars       map[string]string `json:"vars"`
	LastResult *result           `json:"last_result,omitempty"`
}

// WebhookReply is the JSON a webhook answers with; every field is optional.
type WebhookReply struct {
	Say      string            `json:"say"`      // spoken with the flow's TTS engine
	Next     string            `json:"next"`     // step id to go to ("end" to finish)
	Transfer string            `json:"transfer"` // extension to transfer to
	Hangup   bool              `json:"hangup"`
	Cause    string            `json:"cause"` // hangup cause
	Vars     map[string]string `json:"vars"`  // merged into the flow's variables
}

// webhook is the voice-bot turn: post what we know, do what the reply says.
func (ru *run) webhook(ctx context.Context, s *Step) (string, error) {
	body := WebhookRequest{Flow: ru.f.Name, Step: s.ID, Vars: ru.vars}
	if ru.call != nil {
		body.CallUUID = ru.call.UUID
	}
	if ru.last != (result{}) {
		last := ru.last
		body.LastResult = &last
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, expand(s.Webhook.URL, ru.vars), bytes.NewReader(b))
	if err != nil {
		return "", fail("webhook", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ru.r.HTTP.Do(req)
	if err != nil {
		return "", fail("webhook", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fail("webhook", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fail("webhook", fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, data))
	}
	var reply WebhookReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return "", fail("webhook reply", err)
	}
	ru.mark(s.ID, "webhook", string(data))
	for k, v := range reply.Vars {
		ru.vars[k] = v
	}
	if reply.Next != "" && reply.Next != "end" && ru.index(reply.Next) < 0 {
		return "", fail("webhook reply", fmt.Errorf("next step %q does not exist", reply.Next))
	}
	if reply.Say != "" {
		if ru.call == nil {
			return "", fail("webhook say without a call", nil)
		}
		ru.digits = nil
		if err := ru.call.Speak(ctx, ru.tts(), "", reply.Say); err != nil {
			return "", err
		}
	}
	switch {
	case reply.Transfer != "":
		if err := ru.call.Transfer(ctx, reply.Transfer, "XML", "default"); err != nil {
			return "", err
		}
		ru.handedOff = true
		ru.mark(s.ID, "transfer", reply.Transfer)
		return "end", nil
	case reply.Hangup:
		if err := ru.call.Hangup(ctx, reply.Cause); err != nil {
			return "", err
		}
		return "end", ru.wait(ctx, func() bool { return ru.state.hungup })
	}
	return reply.Next, nil
}
