/// e^x for 8 floats at once, for the activations of the MLPs (≈ 10⁷ per training step at
/// N = 1000, where calling `expf` one number at a time was ≈ 8% of the step).
///
/// Cephes' `expf` scheme: x = n·ln 2 + r with n = round(x / ln 2) and |r| ≤ ln 2 / 2, e^r from a
/// degree-7 polynomial, 2ⁿ built in the exponent bits. Relative error ≤ 3·10⁻⁷ (a few ulp;
/// tested against `exp` in Double) for x in [−87.3, 88.3]; x outside is clamped to that range
/// (e^x stays a normal float: enough for the sigmoids it feeds, 1/(1 + e^−x)). Only plain SIMD
/// arithmetic and bit operations: the same numbers on SSE2 and AVX2 builds (no FMA here).
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let log2e: Float = 1.44269504088896341
    // ln 2 in two parts: n·ln2Hi is exact for |n| < 2⁸, so r = x − n·ln 2 keeps its low bits.
    let ln2Hi: Float = 0.693359375, ln2Lo: Float = -2.12194440e-4
    // 1.5·2²³: adding it rounds to the nearest integer and leaves that integer in the low
    // mantissa bits (no rounding instruction needed on SSE2).
    let magic: Float = 12582912
    let lo = SIMD8<Float>(repeating: -87.3), hi = SIMD8<Float>(repeating: 88.3)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)  // inlined, unlike `clamped`
    let shifted = xc * log2e + magic
    let n = shifted - magic
    let r = (xc - n * ln2Hi) - n * ln2Lo
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let er = p * (r * r) + r + 1
    // 2ⁿ: n + 127 in the exponent field (n ∈ [−126, 127] after the clamp).
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let twoN = unsafeBitCast((nBits &+ 127) &<< 23, to: SIMD8<Float>.self)
    return er * twoN
}
