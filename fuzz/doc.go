// Package fuzz holds the project's differential fuzz targets: each one feeds
// arbitrary bit patterns to a model and compares the result with an independent
// oracle (float64, math/big, or the owning package's own oracle, which shares no
// code with the model) or checks a property the SPEC states. The package has no
// API; everything is in its tests.
//
// Targets take []byte and read it as little-endian float32 bit patterns (or
// bytes of codes and scales), so the fuzzer's bit-level mutators reach NaN
// payloads, subnormals and the last ulp before a tie; a short input is padded
// with zeros.
//
// Targets of this package (go test -fuzz=^NAME$ ./fuzz):
//
//   - FuzzE2M1 (SPEC §2): every float32 of the input through e2m1 in threshold
//     mode and RNE mode under each NaN policy, against e2m1.OracleEncode; the
//     two modes differ exactly on the set SPEC §2 names (ties ±0.75, ±1.75,
//     ±3.5, negatives that round to zero including −0, NaN as the RNE NaN
//     policy decides); Fromfloat32, EncodeSlice, Pack, Unpack and the
//     PackScaled kernel agree with the per-value oracle.
//   - FuzzUE8M0 (SPEC §3): every float32 as a group maximum through every scale
//     variant against ue8m0.OracleFromAmax; cuda and triton agree exactly when
//     6·2^−14 < amax < +Inf; every variant is monotone in amax.
//   - FuzzQuantizer (SPEC §2, §3): a group of 32 float32 and a forced scale
//     byte through Quantizer.Group and GroupForced for every variant × element
//     encoder, against a float64 oracle (the group maximum, OracleFromAmax, each
//     variant's literal element arithmetic ends included, OracleEncode); cuda
//     and triton scales agree exactly when amax > 6·2^−14 and their codes agree
//     with them; threshold and rne codes agree everywhere except the SPEC §2 set.
//   - FuzzBF16 (SPEC §4): bf16.Fromfloat32, Round, Narrow, Widen, IsNaN and
//     IsInf against a float64 nearest-even oracle on the bf16 grid.
//   - FuzzE4M3 (SPEC §4): fp8.Encode in both overflow modes against a float64
//     nearest-even oracle on the E4M3 grid; decoding against the closed form.
//   - FuzzHadamard (SPEC §4): hadamard.Transform and Rotate for n = 1 … 256
//     against a gonum float64 matrix product within the proved rounding bound
//     γ_log2(n)·Σ|x|; NaN and Inf spread as IEEE arithmetic says;
//     H(H(x)) = n·x exactly on small integers; the bf16 option is bf16.Round of
//     the fp32 result.
//   - FuzzRoPE (SPEC §4): rope.Apply, both arithmetics and both layouts, against
//     the float64 rotation within the proved bound of each rounding pattern;
//     NaN spreads to both outputs of its pair.
//   - FuzzLogits (SPEC §6): mqa.Logits on a small FP4 paged input (8 heads,
//     D = 64 or 128, up to 4 keys in a scrambled block table) with the exact and
//     fp32-fma dots and the sm100 and sequential epilogues, against a
//     recomputation that dequantizes in float64, sums exactly in math/big and
//     performs the epilogue's operations with a math/big FMA; masked columns are
//     −Inf.
//
// Targets that live in the package they test (one body each, not repeated
// here):
//
//   - the exact fp32 FMA against math/big: FuzzFMA32 in internal/fma;
//   - the paged store/load round trip: FuzzStoreBatch in pagedcache;
//   - the safetensors reader (no panic, errors of a known class, decoded
//     tensors fit in the input, re-encoding is a fixed point): FuzzDecode in
//     internal/safetensors; the .npy reader: FuzzRead in internal/npy;
//   - the RoPE GPU FMA pattern bit for bit against math/big: FuzzApply in rope;
//   - the three 128-point Hadamard implementations against each other:
//     FuzzTransform128 in hadamard;
//   - a whole quantized row against the ue8m0 test reference: FuzzRow in ue8m0;
//   - single float32 inputs against the oracles: FuzzEncode in e2m1 and
//     FuzzFromAmax in ue8m0 (FuzzE2M1 and FuzzUE8M0 here check the same
//     oracles plus the SPEC's cross-mode statements).
//
// Seed corpora (testdata/fuzz/<Target>/) hold one file per known pitfall: each
// E2M1 tie 0.25 … 5 and its neighbours, amax = 3·2^k and 6·2^k ± 1 ulp, the
// 1e-4 floors, 6·2^−14 ± 1 ulp, scale bytes 0, 1, 254, 255, NaN payloads of both
// signs, −0, subnormals, ±Inf, bf16 and E4M3 ties and overflow edges. They are
// generated from the tables in seeds_test.go (go test ./fuzz -run
// TestSeedCorpus -update-seeds rewrites them) and run under plain go test.
// TestMutantsAreCaught replays them against deliberately broken models (ties
// rounding up, a lost sign, the floor on the wrong side of the divide, …) and
// requires every mutant to fail.
//
// .ci/run fuzzes every target of the repository for a few seconds;
// scripts/fuzz-long.sh runs each for longer (default 5 minutes).
package fuzz
