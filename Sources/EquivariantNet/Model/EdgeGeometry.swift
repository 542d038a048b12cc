extension PropensityModel {
    /// The edge geometry every interaction layer reads, computed once per snapshot: the spherical
    /// harmonics Y(r̂_ij) of each edge, and each neighbor pair's length |r_ij| and radial basis
    /// (`ModelInput.pairs`: one row per pair, from its first edge; the reverse edge has the same
    /// length bitwise). No backward: positions are not trained.
    struct EdgeGeometry {
        let bessel: BesselBasis
        let harmonics: SphericalHarmonics

        init(config: ModelConfig) {
            bessel = BesselBasis(cutoff: config.cutoff, count: config.radialBasis, envelopePower: config.envelopePower)
            harmonics = SphericalHarmonics(lmax: config.lmax)
        }

        /// `lengths` `[R]`, `radialBasis` `[R][basis]` and `sphericalHarmonics` `[E][(lmax+1)²]` of
        /// `input`, per row of `edges` (E) and `pairs` (R).
        func forward(input: ModelInput, lengths: inout [Float], radialBasis: inout [Float], sphericalHarmonics: inout [Float],
                     edges: RowBlocks, pairs: RowBlocks) {
            FlatBuffers.fit(&lengths, pairs.rows)
            FlatBuffers.fit(&radialBasis, pairs.rows * bessel.count)
            FlatBuffers.fit(&sphericalHarmonics, edges.rows * harmonics.dimension)
            if edges.rows == 0 { return }
            forward(vectors: input.vectors, edgesOfRow: input.pairs.edgesOfRow, lengths: &lengths, radialBasis: &radialBasis,
                    sphericalHarmonics: &sphericalHarmonics, edges: edges, pairs: pairs)
        }

        func forward(vectors v: UnsafePointer<Float>, edgesOfRow: UnsafePointer<Int32>, lengths: UnsafeMutablePointer<Float>,
                     radialBasis: UnsafeMutablePointer<Float>, sphericalHarmonics y: UnsafeMutablePointer<Float>,
                     edges: RowBlocks, pairs: RowBlocks) {
            let (bessel, sh, dY, basis) = (bessel, harmonics, harmonics.dimension, bessel.count)
            edges.forEach { _, r in
                sh.forward(vectors: v + 3 * r.lowerBound, count: r.count, output: y + r.lowerBound * dY)
            }
            pairs.forEach { _, r in
                for row in r {
                    let q = Int(edgesOfRow[2 * row])
                    let (x, y, z) = (v[3 * q], v[3 * q + 1], v[3 * q + 2])
                    lengths[row] = (x * x + y * y + z * z).squareRoot()
                }
                bessel.forward(distances: lengths + r.lowerBound, edgeCount: r.count, output: radialBasis + r.lowerBound * basis)
            }
        }
    }
}
