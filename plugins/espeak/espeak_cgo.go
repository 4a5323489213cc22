package main

/*
#cgo pkg-config: espeak-ng
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <espeak-ng/speak_lib.h>

extern int goSynthCallback(short *wav, int n, espeak_EVENT *ev);

static int synth_cb(short *wav, int n, espeak_EVENT *ev) { return goSynthCallback(wav, n, ev); }
static void set_callback(void) { espeak_SetSynthCallback(synth_cb); }

// The job's cgo.Handle travels as espeak's user_data; converting it here keeps Go free of
// uintptr-to-pointer conversions.
static int synth(const char *text, size_t size, unsigned int flags, uintptr_t job) {
	return espeak_Synth(text, size, 0, POS_CHARACTER, 0, flags, NULL, (void *)job);
}
static uintptr_t ev_job(espeak_EVENT *ev) { return (uintptr_t)ev->user_data; }
static espeak_EVENT *ev_at(espeak_EVENT *ev, int i) { return ev + i; }
static const char *ev_name(espeak_EVENT *ev) { return ev->id.name; }

static int set_voice(const char *name, const char *lang, int gender) {
	espeak_VOICE v;
	memset(&v, 0, sizeof v);
	v.name = (name && *name) ? name : NULL;
	v.languages = (lang && *lang) ? lang : NULL;
	v.gender = gender;
	return espeak_SetVoiceByProperties(&v);
}
static const espeak_VOICE *voice_at(const espeak_VOICE **vs, int i) { return vs[i]; }
*/
import "C"

import (
	"runtime/cgo"
	"strings"
	"unsafe"
)

// espeakInit initialises the process-wide library in synchronous retrieval mode: espeak_Synth
// returns when the utterance is done, calling the callback with bufMS-long chunks meanwhile.
func espeakInit(dataPath string, bufMS int) (rate int, ok bool) {
	var cpath *C.char
	if dataPath != "" {
		cpath = C.CString(dataPath)
		defer C.free(unsafe.Pointer(cpath))
	}
	r := C.espeak_Initialize(C.AUDIO_OUTPUT_SYNCHRONOUS, C.int(bufMS), cpath, 0)
	if r <= 0 {
		return 0, false
	}
	C.set_callback()
	return int(r), true
}

//export goSynthCallback
func goSynthCallback(wav *C.short, n C.int, ev *C.espeak_EVENT) C.int {
	if ev == nil {
		return 1
	}
	j, ok := cgo.Handle(C.ev_job(ev)).Value().(*job)
	if !ok {
		return 1
	}
	var marks []markAt
	for i := 0; ; i++ {
		e := C.ev_at(ev, C.int(i))
		if e._type == C.espeakEVENT_LIST_TERMINATED {
			break
		}
		if e._type == C.espeakEVENT_MARK {
			marks = append(marks, markAt{ms: int(e.audio_position), name: C.GoString(C.ev_name(e))})
		}
	}
	var pcm []int16
	if n > 0 && wav != nil {
		pcm = append(pcm, unsafe.Slice((*int16)(unsafe.Pointer(wav)), int(n))...)
	}
	if !j.deliver(pcm, marks) {
		return 1 // abort: the request was cancelled
	}
	return 0
}

func espeakSynth(text string, ssml bool, j *job) bool {
	h := cgo.NewHandle(j)
	defer h.Delete()
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	flags := C.uint(C.espeakCHARS_UTF8)
	if ssml {
		flags |= C.espeakSSML
	}
	return C.synth(ct, C.size_t(len(text)+1), flags, C.uintptr_t(h)) == C.EE_OK
}

func espeakSetVoice(name, lang string, gender int) bool {
	cn, cl := C.CString(name), C.CString(lang)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cl))
	return C.set_voice(cn, cl, C.int(gender)) == C.EE_OK
}

func espeakSetVoiceByName(name string) bool {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return C.espeak_SetVoiceByName(cn) == C.EE_OK
}

type param int

const (
	paramRate   = param(C.espeakRATE)
	paramVolume = param(C.espeakVOLUME)
	paramPitch  = param(C.espeakPITCH)
)

func espeakSet(p param, v int) { C.espeak_SetParameter(C.espeak_PARAMETER(p), C.int(v), 0) }

type espeakVoice struct {
	name, lang string
	gender     int
}

// espeakVoices lists installed voices with their first language. A voice's languages field is a
// sequence of (priority byte, NUL-terminated name) pairs.
func espeakVoices() []espeakVoice {
	vs := C.espeak_ListVoices(nil)
	var out []espeakVoice
	for i := 0; ; i++ {
		v := C.voice_at(vs, C.int(i))
		if v == nil {
			break
		}
		lang := ""
		if v.languages != nil {
			lang = C.GoString((*C.char)(unsafe.Add(unsafe.Pointer(v.languages), 1)))
		}
		out = append(out, espeakVoice{name: strings.TrimSpace(C.GoString(v.name)), lang: lang, gender: int(v.gender)})
	}
	return out
}
