//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// INLANE applies stages h = 1, 2, 4 to the 8 lanes of R. For each stage, T is R
// with lanes i and i^h swapped; S = R + T holds the sum in the lane with bit h
// clear and D = T − R the difference lower − upper in the lane with bit h set;
// the blend keeps the right one per lane.
#define INLANE(R) \
	VPERMILPS  $0xB1, R, Y8; \
	VADDPS     Y8, R, Y9; \
	VSUBPS     R, Y8, Y10; \
	VBLENDPS   $0xAA, Y10, Y9, R; \
	VPERMILPS  $0x4E, R, Y8; \
	VADDPS     Y8, R, Y9; \
	VSUBPS     R, Y8, Y10; \
	VBLENDPS   $0xCC, Y10, Y9, R; \
	VPERM2F128 $0x01, R, R, Y8; \
	VADDPS     Y8, R, Y9; \
	VSUBPS     R, Y8, Y10; \
	VBLENDPS   $0xF0, Y10, Y9, R

// BFLY: (A, B) = (A + B, A − B).
#define BFLY(A, B) \
	VADDPS  B, A, Y8; \
	VSUBPS  B, A, B; \
	VMOVAPS Y8, A

// HALF transforms the 64 values at byte offset OFF of DI with stages 1..32.
#define HALF(OFF) \
	VMOVUPS (OFF+0)(DI), Y0; \
	VMOVUPS (OFF+32)(DI), Y1; \
	VMOVUPS (OFF+64)(DI), Y2; \
	VMOVUPS (OFF+96)(DI), Y3; \
	VMOVUPS (OFF+128)(DI), Y4; \
	VMOVUPS (OFF+160)(DI), Y5; \
	VMOVUPS (OFF+192)(DI), Y6; \
	VMOVUPS (OFF+224)(DI), Y7; \
	INLANE(Y0); \
	INLANE(Y1); \
	INLANE(Y2); \
	INLANE(Y3); \
	INLANE(Y4); \
	INLANE(Y5); \
	INLANE(Y6); \
	INLANE(Y7); \
	BFLY(Y0, Y1); \
	BFLY(Y2, Y3); \
	BFLY(Y4, Y5); \
	BFLY(Y6, Y7); \
	BFLY(Y0, Y2); \
	BFLY(Y1, Y3); \
	BFLY(Y4, Y6); \
	BFLY(Y5, Y7); \
	BFLY(Y0, Y4); \
	BFLY(Y1, Y5); \
	BFLY(Y2, Y6); \
	BFLY(Y3, Y7); \
	VMOVUPS Y0, (OFF+0)(DI); \
	VMOVUPS Y1, (OFF+32)(DI); \
	VMOVUPS Y2, (OFF+64)(DI); \
	VMOVUPS Y3, (OFF+96)(DI); \
	VMOVUPS Y4, (OFF+128)(DI); \
	VMOVUPS Y5, (OFF+160)(DI); \
	VMOVUPS Y6, (OFF+192)(DI); \
	VMOVUPS Y7, (OFF+224)(DI)

// LAST64 does stage 64 on the vectors at byte offsets OFF and OFF+256.
#define LAST64(OFF) \
	VMOVUPS (OFF)(DI), Y0; \
	VMOVUPS (OFF+256)(DI), Y1; \
	VADDPS  Y1, Y0, Y2; \
	VSUBPS  Y1, Y0, Y3; \
	VMOVUPS Y2, (OFF)(DI); \
	VMOVUPS Y3, (OFF+256)(DI)

// LAST64S is LAST64 followed by the product with the scale broadcast in Y15,
// rounded separately (VMULPS, no fused multiply-add).
#define LAST64S(OFF) \
	VMOVUPS (OFF)(DI), Y0; \
	VMOVUPS (OFF+256)(DI), Y1; \
	VADDPS  Y1, Y0, Y2; \
	VSUBPS  Y1, Y0, Y3; \
	VMULPS  Y15, Y2, Y2; \
	VMULPS  Y15, Y3, Y3; \
	VMOVUPS Y2, (OFF)(DI); \
	VMOVUPS Y3, (OFF+256)(DI)

// func transform128AVX(x *[128]float32)
TEXT ·transform128AVX(SB), NOSPLIT, $0-8
	MOVQ x+0(FP), DI
	HALF(0)
	HALF(256)
	LAST64(0)
	LAST64(32)
	LAST64(64)
	LAST64(96)
	LAST64(128)
	LAST64(160)
	LAST64(192)
	LAST64(224)
	VZEROUPPER
	RET

// func rotate128AVX(x *[128]float32, scale float32)
TEXT ·rotate128AVX(SB), NOSPLIT, $0-12
	MOVQ x+0(FP), DI
	VBROADCASTSS scale+8(FP), Y15
	HALF(0)
	HALF(256)
	LAST64S(0)
	LAST64S(32)
	LAST64S(64)
	LAST64S(96)
	LAST64S(128)
	LAST64S(160)
	LAST64S(192)
	LAST64S(224)
	VZEROUPPER
	RET
