#include "textflag.h"

// func goertzel8(c *bank8, x []int16, s *[16]float32)
//
// Eight Goertzel recurrences a(t) = (x(t) - b) + c·a, b = a(t-1), in two registers of four lanes:
// X0/X1 coefficients, X2/X3 a, X4/X5 b. The operations and their order are goertzel8Go's (SSE has
// no fused multiply-add), so both give the same bits.
TEXT ·goertzel8(SB), NOSPLIT, $0-40
	MOVQ   c+0(FP), AX
	MOVQ   x_base+8(FP), SI
	MOVQ   x_len+16(FP), CX
	MOVQ   s+32(FP), DI
	MOVUPS 0(AX), X0
	MOVUPS 16(AX), X1
	XORPS  X2, X2
	XORPS  X3, X3
	XORPS  X4, X4
	XORPS  X5, X5
	TESTQ  CX, CX
	JZ     done

loop:
	MOVWQSX  (SI), DX
	XORPS    X6, X6     // breaks CVTSQ2SS's dependency on X6's old value
	CVTSQ2SS DX, X6     // exact for 16-bit samples
	SHUFPS   $0, X6, X6 // x(t) in every lane
	MOVAPS   X6, X7
	SUBPS    X4, X6 // x - b
	SUBPS    X5, X7
	MOVAPS   X2, X4 // b = a
	MOVAPS   X3, X5
	MULPS    X0, X2 // c·a
	MULPS    X1, X3
	ADDPS    X6, X2 // a = (x - b) + c·a
	ADDPS    X7, X3
	ADDQ     $2, SI
	DECQ     CX
	JNZ      loop

done:
	MOVUPS X2, 0(DI)
	MOVUPS X3, 16(DI)
	MOVUPS X4, 32(DI)
	MOVUPS X5, 48(DI)
	RET
