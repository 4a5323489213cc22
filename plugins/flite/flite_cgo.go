package main

/*
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_cmu_us_kal -lflite_cmu_us_awb -lflite_cmu_us_rms -lflite_usenglish -lflite_cmulex -lflite -lm
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <flite/flite.h>
#include <flite/cst_audio.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);

extern int goStreamChunk(short *samples, int n, int rate, int last, uintptr_t job);

static int stream_cb(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi) {
	return goStreamChunk(w->samples + start, size, w->sample_rate, last, (uintptr_t)asi->userdata);
}

static cst_voice *voice_by_name(const char *name) {
	if (!strcmp(name, "slt")) return register_cmu_us_slt(NULL);
	if (!strcmp(name, "kal")) return register_cmu_us_kal(NULL);
	if (!strcmp(name, "awb")) return register_cmu_us_awb(NULL);
	if (!strcmp(name, "rms")) return register_cmu_us_rms(NULL);
	return NULL;
}

// synth streams text through voice v to the Go job: flite calls stream_cb as each chunk of
// the waveform is ready, instead of returning the whole wave at the end.
static int synth(cst_voice *v, const char *text, uintptr_t job, float stretch, float f0) {
	cst_audio_streaming_info *asi = new_audio_streaming_info();
	asi->asc = stream_cb;
	asi->min_buffsize = 320;
	asi->userdata = (void *)job;
	feat_set(v->features, "streaming_info", audio_streaming_info_val(asi));
	feat_set_float(v->features, "duration_stretch", stretch);
	if (f0 > 0) feat_set_float(v->features, "int_f0_target_mean", f0);
	float secs = flite_text_to_speech(text, v, "none");
	feat_remove(v->features, "streaming_info");
	return secs >= 0;
}
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

type voice struct{ v *C.cst_voice }

func fliteInit() { C.flite_init() }

func loadVoice(name string) (voice, bool) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	v := C.voice_by_name(cn)
	return voice{v}, v != nil
}

// defaultF0 is the voice's own mean pitch, the base for relative Prosody-Pitch.
func (v voice) defaultF0() float64 {
	cn := C.CString("int_f0_target_mean")
	defer C.free(unsafe.Pointer(cn))
	return float64(C.get_param_float(v.v.features, cn, 100))
}

func (v voice) synth(text string, j *job, stretch, f0 float64) bool {
	h := cgo.NewHandle(j)
	defer h.Delete()
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	return C.synth(v.v, ct, C.uintptr_t(h), C.float(stretch), C.float(f0)) != 0
}

//export goStreamChunk
func goStreamChunk(samples *C.short, n, rate, last C.int, h C.uintptr_t) C.int {
	j, ok := cgo.Handle(h).Value().(*job)
	if !ok {
		return C.CST_AUDIO_STREAM_STOP
	}
	var pcm []int16
	if n > 0 && samples != nil {
		pcm = append(pcm, unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n))...)
	}
	if !j.deliver(pcm, int(rate)) {
		return C.CST_AUDIO_STREAM_STOP
	}
	return C.CST_AUDIO_STREAM_CONT
}
