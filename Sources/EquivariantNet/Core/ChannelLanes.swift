/// The vector registers the tensor-product kernels are written for, chosen at compile time.
///
/// Swift's default x86-64 target has SSE2 only: 4-float registers and no fused multiply-add
/// (`addingProduct` would call `fmaf` lane by lane). A build for the host CPU passes
/// `-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DEQUIGLASS_AVX2` (the Makefile does, when
/// /proc/cpuinfo lists avx2 and fma): 8-float registers and `vfmadd`. The kernels keep one
/// structure; only the narrow arithmetic below changes between the two builds.
///
/// With FMA, a·b + c is rounded once instead of twice, so the two builds differ in the last bits
/// (each is bitwise independent of the thread count, and both match the reference loops).
enum ChannelLanes {
    #if EQUIGLASS_AVX2
    /// What `bench --json` records as the build's kernels.
    static let kernelTarget = "avx2+fma (8-wide, EQUIGLASS_AVX2)"
    #else
    static let kernelTarget = "sse2 (4-wide, portable x86-64)"
    #endif
}

// Loads and stores of 8 and 4 channels at any float offset (rows of C floats are not
// vector-aligned).
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inline(__always) func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) func load4(_ p: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

#if EQUIGLASS_AVX2
/// Channels per register in the sender-grouped backward: one AVX register.
typealias Lanes = SIMD8<Float>
@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> Lanes { load8(p) }
@inline(__always) func loadLanes(_ p: UnsafeMutablePointer<Float>) -> Lanes { load8(p) }
@inline(__always) func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) { store8(v, p) }
#else
/// Channels per register in the sender-grouped backward: one SSE register.
typealias Lanes = SIMD4<Float>
@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> Lanes { load4(p) }
@inline(__always) func loadLanes(_ p: UnsafeMutablePointer<Float>) -> Lanes { load4(p) }
@inline(__always) func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) { store4(v, p) }
#endif

/// acc + a·b: one fused multiply-add (`vfmadd`) in the AVX2 build, a multiply and an add otherwise.
@inline(__always) func multiplyAdd(_ acc: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes {
    #if EQUIGLASS_AVX2
    acc.addingProduct(a, b)
    #else
    acc + a * b
    #endif
}

@inline(__always) func multiplyAdd(_ acc: Lanes, _ a: Float, _ b: Lanes) -> Lanes {
    #if EQUIGLASS_AVX2
    acc.addingProduct(a, b)
    #else
    acc + a * b
    #endif
}

/// Eight channels of one row held in registers: one AVX register in the AVX2 build, two SSE
/// halves otherwise (the forward's row sums, C = 8 channels at a time).
struct Channels8 {
    #if EQUIGLASS_AVX2
    var v: SIMD8<Float>
    @inline(__always) init() { v = SIMD8() }
    /// self += a · p[0 ..< 8]
    @inline(__always) mutating func add(_ a: Float, times p: UnsafePointer<Float>) {
        v = v.addingProduct(SIMD8(repeating: a), load8(p))
    }
    /// self += p[0 ..< 8] ⊙ x
    @inline(__always) mutating func add(_ p: UnsafePointer<Float>, times x: Channels8) {
        v = v.addingProduct(load8(p), x.v)
    }
    /// p[0 ..< 8] ⊙ x
    @inline(__always) init(_ p: UnsafePointer<Float>, times x: Channels8) { v = load8(p) * x.v }
    /// p[0 ..< 8] += self
    @inline(__always) func add(to p: UnsafeMutablePointer<Float>) { store8(load8(p) + v, p) }
    #else
    var lo: SIMD4<Float>, hi: SIMD4<Float>
    @inline(__always) init() { lo = SIMD4(); hi = SIMD4() }
    @inline(__always) mutating func add(_ a: Float, times p: UnsafePointer<Float>) {
        let a4 = SIMD4<Float>(repeating: a)
        lo += a4 * load4(p); hi += a4 * load4(p + 4)
    }
    @inline(__always) mutating func add(_ p: UnsafePointer<Float>, times x: Channels8) {
        lo += load4(p) * x.lo; hi += load4(p + 4) * x.hi
    }
    @inline(__always) init(_ p: UnsafePointer<Float>, times x: Channels8) { lo = load4(p) * x.lo; hi = load4(p + 4) * x.hi }
    @inline(__always) func add(to p: UnsafeMutablePointer<Float>) { store4(load4(p) + lo, p); store4(load4(p + 4) + hi, p + 4) }
    #endif
}
