// Package esl is a FreeSWITCH Event Socket client for driving calls: originate,
// run applications, send DTMF, and follow each call's events in order, across
// reconnects. The IVR runner (esl/flow, esl/campaign, cmd/ivr) is built on it
// and esl/esltest is the fake FreeSWITCH its tests run against.
//
// # Why the connection layer is ours and not eslgo's
//
// We keep github.com/percipia/eslgo v1.5.2 for what it does well: its command
// builders (auth, event, filter) produce our subscription lines, and its
// listener model is the reference order_test.go runs the same consumer against.
// Its connection layer cannot give the guarantees this package promises, and
// is replaced:
//
//   - Event order. eslgo's eventLoop calls every listener in a new goroutine
//     per event ("go listener(event)"), so two events of one call race and
//     arrive in any order. Here one reader goroutine parses the socket and
//     pushes each event into its call's bounded mailbox (keyed by Unique-ID,
//     kept in Event-Sequence order); a call's consumer reads its mailbox
//     sequentially while other calls proceed in parallel.
//   - A reader that never blocks. eslgo's receiveLoop hands each message to an
//     unbuffered channel and waits up to 5 s for a taker, stalling every call
//     behind one slow consumer. Our reader only does map lookups and
//     non-blocking pushes; a full mailbox drops into an EventResync for that
//     call alone, counted in esl_events_dropped_total.
//   - Reply matching. eslgo returns whichever command/reply or api/response
//     comes next to whichever SendCommand is waiting, so after a cancelled
//     command every later command gets its predecessor's reply. We queue a slot
//     per command in write order; a cancelled command keeps its slot.
//   - Disconnects. eslgo signals a disconnect only when the read error's text is
//     exactly "EOF"; resets, timeouts, half-open sockets and protocol errors
//     leave it silently dead. Every way our connection ends goes through one
//     path (conn.fail), and a heartbeat with a deadline finds a wedged peer.
//   - Correlation ids. Job-UUIDs (bgapi) and Event-UUIDs (execute) are
//     generated here and registered before the command is written, so a
//     BACKGROUND_JOB or CHANNEL_EXECUTE_COMPLETE cannot outrun its waiter.
//   - Determinism. eslgo's sendmsg iterates a header map (bytes change run to
//     run), its JSON events are not decoded, its Linger prints a
//     time.Duration as seconds, and its Close races with its own disconnect
//     goroutine under -race.
//
// Commands are plain lines ("api ...", "bgapi ...\nJob-UUID: ...",
// "sendmsg ..."); values that reach them go through typed builders that refuse
// line breaks and escape channel variables.
package esl
